#!/usr/bin/env python3
# The PyTorch side of `elman-bench --device cpu --train`: one epoch of the char-LM of
# `elman-train chars` from elman's initial weights, data and order, timed; prints JSON on stdout.
"""Usage: pytorch_train.py REQUEST.json

REQUEST holds dir, vocabulary V, hidden H, seq_len T, batch, sequences N, lr, clip, threads (a
list: the epoch runs once per thread count), warmup_steps, and the parameter names and shapes of
"rnn" and "fc" in their flat files' order. dir holds rnn.bin and fc.bin (the initial weights,
float32), inputs.bin and targets.bin ([N, T] character ids as float32) and order.bin ([N]: the
epoch's order of the sequences, the first shuffle of elman's Trainer).

Each run: torch.set_num_threads(n); nn.RNN(V, H, batch_first=True) (tanh, one layer) and
nn.Linear(H, V) loaded with the initial weights; Adam(lr) with PyTorch's defaults; per batch of
the order: one-hot inputs, the Linear head on every step, F.cross_entropy (mean), backward,
clip_grad_norm_(clip), step. warmup_steps untimed steps of a throwaway copy come first. Returns
{"torch_version", "runs": [{"threads", "seconds", "loss"}]}, the loss being the epoch's mean
(each batch's mean weighted by its size), as elman's Trainer reports it. Exit status 3 with
{"error": ...} when torch is missing.
"""
import json
import os
import sys
import time


def load(torch, path, n):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    t = torch.frombuffer(data, dtype=torch.float32)
    if t.numel() != n:
        raise ValueError(f"{path}: {t.numel()} floats, expected {n}")
    return t.clone()


def load_into(torch, module, path, spec):
    """Copies the flat file at path into module's parameters, named and shaped as spec says."""
    sizes = [int(torch.Size(s).numel()) for s in spec["shapes"]]
    flat = load(torch, path, sum(sizes))
    offset = 0
    with torch.no_grad():
        for name, shape, n in zip(spec["names"], spec["shapes"], sizes):
            p = getattr(module, name)
            if list(p.shape) != list(shape):
                raise ValueError(f"{name}: PyTorch has {list(p.shape)}, elman {shape}")
            p.copy_(flat[offset:offset + n].view(shape))
            offset += n


def make_model(torch, req):
    V, H, d = req["vocabulary"], req["hidden"], req["dir"]
    rnn = torch.nn.RNN(V, H, num_layers=1, nonlinearity="tanh", batch_first=True)
    fc = torch.nn.Linear(H, V)
    load_into(torch, rnn, os.path.join(d, "rnn.bin"), req["rnn"])
    load_into(torch, fc, os.path.join(d, "fc.bin"), req["fc"])
    return rnn, fc


def train(torch, req, x_ids, y_ids, order, steps=None):
    """One epoch over `order` (or its first `steps` batches); returns (seconds, mean loss)."""
    F = torch.nn.functional
    V, B, clip = req["vocabulary"], req["batch"], req["clip"]
    rnn, fc = make_model(torch, req)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=req["lr"])
    n = len(order)
    last = n if steps is None else min(n, steps * B)
    total = torch.zeros(())
    t0 = time.perf_counter()
    for first in range(0, last, B):
        idx = order[first:first + B]
        x = F.one_hot(x_ids[idx], V).float()  # [b, T, V]
        y = y_ids[idx]                        # [b, T]
        out, _ = rnn(x)
        logits = fc(out)                      # [b, T, V]
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        total += loss.detach() * (len(idx) / n)
    loss_value = float(total)
    return time.perf_counter() - t0, loss_value


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"error": f"PyTorch is not installed for {sys.executable} ({e})"}))
        return 3
    d, N, T = req["dir"], req["sequences"], req["seq_len"]
    x_ids = load(torch, os.path.join(d, "inputs.bin"), N * T).view(N, T).long()
    y_ids = load(torch, os.path.join(d, "targets.bin"), N * T).view(N, T).long()
    order = load(torch, os.path.join(d, "order.bin"), N).long()
    runs = []
    for threads in req["threads"]:
        torch.set_num_threads(int(threads))
        train(torch, req, x_ids, y_ids, order, steps=req["warmup_steps"])  # throwaway warm-up
        seconds, loss = train(torch, req, x_ids, y_ids, order)
        runs.append({"threads": torch.get_num_threads(), "seconds": seconds, "loss": loss})
        print(f"  pytorch, {threads} thread(s): {N / seconds:.1f} seq/s", file=sys.stderr)
    print(json.dumps({"torch_version": torch.__version__, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
