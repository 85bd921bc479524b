#!/usr/bin/env python3
# The PyTorch side of `elman-bench --device cpu`: torch.nn.RNN on the CPU, on the weights and
# inputs elman-bench wrote (raw float32 files), timed the same way; prints JSON on stdout.
"""Usage: pytorch_cpu.py REQUEST.json

REQUEST holds runs, warmup, rotations, threads and a list of shape directories (or null). Each
directory holds spec.json (sizes, PyTorch parameter names and shapes, and for a variable-length
row its "lengths"), params.bin (the flat parameters in that order), and per rotation k:
x{k}.bin [T,B,I], h0{k}.bin [L*D,B,H], dy{k}.bin [T,B,D*H], dhy{k}.bin [L*D,B,H]. For the
agreement check this script writes, from rotation 0: out_y_inference.bin, out_y.bin,
out_h_n.bin, out_dx.bin, out_dh0.bin and out_dw.bin (parameter gradients, flat, same order).
A variable-length row runs pack_padded_sequence(enforce_sorted=False) -> nn.RNN ->
pad_packed_sequence(total_length=T), all three inside the timed region (elman's call takes and
returns the padded tensors too).

REQUEST may also hold "streaming": directories of streaming shapes, each with spec.json (batch,
hidden, layers, input_size, steps, warmup, parameter names and shapes), params.bin,
x_stream.bin [N,B,I] (N = warmup + steps) and h0_stream.bin [L,B,H]. Under torch.no_grad,
nn.RNN is called once per step on x[t:t+1] with the carried hidden state; the script writes
out_stream_y.bin [N,B,H] and out_stream_h_n.bin [L,B,H] and returns the per-step times of the
last `steps` steps. Exit status 3 with {"error": ...} when torch is missing.
"""
import json
import os
import sys
import time


def load(torch, path, shape):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    t = torch.frombuffer(data, dtype=torch.float32)
    n = 1
    for s in shape:
        n *= s
    if t.numel() != n:
        raise ValueError(f"{path}: {t.numel()} floats, expected {n}")
    return t.view(shape).clone()


def save(path, tensor):
    with open(path, "wb") as f:
        f.write(tensor.detach().contiguous().to("cpu").numpy().astype("float32").tobytes())


def time_phase(warmup, runs, setup, body):
    times = []
    for i in range(warmup + runs):
        setup(i)
        t0 = time.perf_counter()
        body(i)
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    return times


def make_rnn(torch, d, spec, I, H, L, bi):
    """nn.RNN with elman's parameters (params.bin, in spec's names and shapes)."""
    rnn = torch.nn.RNN(I, H, L, nonlinearity="tanh", bias=True, batch_first=False,
                       bidirectional=bi)
    names, shapes = spec["param_names"], spec["param_shapes"]
    total = sum(int(torch.Size(s).numel()) for s in shapes)
    flat = load(torch, os.path.join(d, "params.bin"), [total])
    offset = 0
    with torch.no_grad():
        for name, shape in zip(names, shapes):
            p = getattr(rnn, name)
            if list(p.shape) != list(shape):
                raise ValueError(f"{name}: PyTorch has {list(p.shape)}, elman {shape}")
            n = p.numel()
            p.copy_(flat[offset:offset + n].view(shape))
            offset += n
    return rnn, [getattr(rnn, n) for n in names]


def run_shape(torch, d, req):
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    T, B, H, I = spec["seq_len"], spec["batch"], spec["hidden"], spec["input_size"]
    L, bi = spec["layers"], spec["bidirectional"]
    D = 2 if bi else 1
    rnn, params = make_rnn(torch, d, spec, I, H, L, bi)
    lengths = spec.get("lengths")
    if lengths:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        lengths_t = torch.tensor(lengths, dtype=torch.int64)

        def model(x, h0):
            packed = pack_padded_sequence(x, lengths_t, enforce_sorted=False)
            out, hn = rnn(packed, h0)
            y, _ = pad_packed_sequence(out, total_length=T)
            return y, hn
    else:
        model = rnn

    sets = []
    for k in range(req["rotations"]):
        x = load(torch, os.path.join(d, f"x{k}.bin"), [T, B, I])
        h0 = load(torch, os.path.join(d, f"h0{k}.bin"), [L * D, B, H])
        dy = load(torch, os.path.join(d, f"dy{k}.bin"), [T, B, D * H])
        dhy = load(torch, os.path.join(d, f"dhy{k}.bin"), [L * D, B, H])
        sets.append((x.requires_grad_(), h0.requires_grad_(), dy, dhy))

    # Agreement: rotation 0, gradients from zero.
    x, h0, dy, dhy = sets[0]
    with torch.no_grad():
        y_inf, _ = model(x, h0)
    save(os.path.join(d, "out_y_inference.bin"), y_inf)
    y, hn = model(x, h0)
    torch.autograd.backward([y, hn], [dy, dhy])
    save(os.path.join(d, "out_y.bin"), y)
    save(os.path.join(d, "out_h_n.bin"), hn)
    save(os.path.join(d, "out_dx.bin"), x.grad)
    save(os.path.join(d, "out_dh0.bin"), h0.grad)
    save(os.path.join(d, "out_dw.bin"), torch.cat([p.grad.flatten() for p in params]))

    # Timing: the same four phases as elman, inputs rotated; gradients accumulate (as elman's).
    K, wu, runs = len(sets), req["warmup"], req["runs"]
    state = {}

    def nothing(i):
        pass

    def inference(i):
        x, h0, _, _ = sets[i % K]
        with torch.no_grad():
            model(x, h0)

    def train_fwd(i):
        x, h0, _, _ = sets[i % K]
        state["out"] = model(x, h0)

    def backward(i):
        _, _, dy, dhy = sets[i % K]
        torch.autograd.backward(list(state["out"]), [dy, dhy])

    def step(i):
        train_fwd(i)
        backward(i)

    return {
        "times_ms": {
            "inference": time_phase(wu, runs, nothing, inference),
            "train_fwd": time_phase(wu, runs, nothing, train_fwd),
            "backward": time_phase(wu, runs, train_fwd, backward),
            "step": time_phase(wu, runs, nothing, step),
        }
    }


def run_stream(torch, d):
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    B, H, I, L = spec["batch"], spec["hidden"], spec["input_size"], spec["layers"]
    steps, warmup = spec["steps"], spec["warmup"]
    N = warmup + steps
    rnn, _ = make_rnn(torch, d, spec, I, H, L, False)
    x = load(torch, os.path.join(d, "x_stream.bin"), [N, B, I])
    h0 = load(torch, os.path.join(d, "h0_stream.bin"), [L, B, H])
    xs = [x[t:t + 1] for t in range(N)]  # views, made before timing

    # Agreement: the streamed outputs, saved for elman-bench to compare with elman's forward.
    with torch.no_grad():
        h = h0
        ys = []
        for t in range(N):
            y, h = rnn(xs[t], h)
            ys.append(y)
        save(os.path.join(d, "out_stream_y.bin"), torch.cat(ys))
        save(os.path.join(d, "out_stream_h_n.bin"), h)

        # Timing: each step on its own, the state carried from the previous step.
        times = []
        h = h0
        for t in range(N):
            t0 = time.perf_counter()
            y, h = rnn(xs[t], h)
            t1 = time.perf_counter()
            if t >= warmup:
                times.append((t1 - t0) * 1e3)
    return {"times_ms": times}


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"error": f"PyTorch is not installed for {sys.executable} ({e})"}))
        return 3
    torch.set_num_threads(int(req["threads"]))
    answer = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
              "shapes": []}
    for d in req["shapes"]:
        if d is None:
            answer["shapes"].append({"error": "the elman side failed"})
            continue
        try:
            answer["shapes"].append(run_shape(torch, d, req))
        except Exception as e:  # report, and go on with the next shape
            answer["shapes"].append({"error": f"{type(e).__name__}: {e}"})
        print(f"  pytorch {len(answer['shapes'])}/{len(req['shapes'])} done", file=sys.stderr)
    answer["streaming"] = []
    for d in req.get("streaming", []):
        if d is None:
            answer["streaming"].append({"error": "the elman side failed"})
            continue
        try:
            answer["streaming"].append(run_stream(torch, d))
        except Exception as e:
            answer["streaming"].append({"error": f"{type(e).__name__}: {e}"})
        print(f"  pytorch streaming {len(answer['streaming'])}/{len(req['streaming'])} done",
              file=sys.stderr)
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
