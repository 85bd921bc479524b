#!/usr/bin/python3
# Writes tests/sequences/fixtures/*.json: torch.nn.RNN over pack_padded_sequence batches in
# float64, forward and backward, so elman's variable-length semantics are checked against PyTorch.
"""Generate the variable-length (packed sequence) fixtures of the elman test suite.

Run with Debian's python3-torch:  /usr/bin/python3 tools/make_packed_fixtures.py

Same schema as tools/make_fixtures.py, plus "lengths" (one per sequence, in the user's order,
unsorted). PyTorch's side: pack_padded_sequence(enforce_sorted=False) -> nn.RNN ->
pad_packed_sequence(total_length=T), so outputs past a sequence's end are zero, h_n is taken at
each sequence's own end, and the reverse direction starts there. The loss is
    L = sum(grad_output * output) + sum(grad_h_n * h_n)
"""

import json
import os

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CASES = [
    # lengths unsorted, including 1 and T
    dict(input_size=3, hidden_size=4, num_layers=2, nonlinearity="tanh", batch_first=False,
         bidirectional=True, seq_len=5, lengths=[3, 5, 1, 4], has_h0=True),
    dict(input_size=2, hidden_size=3, num_layers=2, nonlinearity="relu", batch_first=True,
         bidirectional=True, seq_len=4, lengths=[1, 4, 2], has_h0=False),
    dict(input_size=2, hidden_size=5, num_layers=1, nonlinearity="tanh", batch_first=True,
         bidirectional=False, seq_len=6, lengths=[6, 2, 6, 1, 3], has_h0=True),
    dict(input_size=4, hidden_size=3, num_layers=2, nonlinearity="tanh", batch_first=False,
         bidirectional=False, seq_len=3, lengths=[2, 3], has_h0=True),
    dict(input_size=1, hidden_size=2, num_layers=1, nonlinearity="relu", batch_first=False,
         bidirectional=True, seq_len=4, lengths=[4, 4, 4], has_h0=True),  # all full: no padding
]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def name_of(c):
    return "packed_I%d_H%d_L%d_%s%s%s_T%d_B%d%s" % (
        c["input_size"], c["hidden_size"], c["num_layers"], c["nonlinearity"],
        "_bf" if c["batch_first"] else "", "_bi" if c["bidirectional"] else "", c["seq_len"],
        len(c["lengths"]), "_h0" if c["has_h0"] else "_noh0")


def make_case(index, c):
    torch.manual_seed(2000 + index)
    dtype = torch.float64
    rnn = torch.nn.RNN(c["input_size"], c["hidden_size"], num_layers=c["num_layers"],
                       nonlinearity=c["nonlinearity"], batch_first=c["batch_first"],
                       bidirectional=c["bidirectional"], dtype=dtype)
    T, B, H = c["seq_len"], len(c["lengths"]), c["hidden_size"]
    D = 2 if c["bidirectional"] else 1
    in_shape = (B, T, c["input_size"]) if c["batch_first"] else (T, B, c["input_size"])
    out_shape = (B, T, D * H) if c["batch_first"] else (T, B, D * H)
    state_shape = (c["num_layers"] * D, B, H)
    x = torch.randn(in_shape, dtype=dtype, requires_grad=True)
    h0 = (0.5 * torch.randn(state_shape, dtype=dtype)).requires_grad_() if c["has_h0"] else None
    grad_output = torch.randn(out_shape, dtype=dtype)
    grad_h_n = torch.randn(state_shape, dtype=dtype)

    packed = pack_padded_sequence(x, torch.tensor(c["lengths"]), batch_first=c["batch_first"],
                                  enforce_sorted=False)
    packed_out, h_n = rnn(packed, h0)
    output, _ = pad_packed_sequence(packed_out, batch_first=c["batch_first"], total_length=T)
    loss = (grad_output * output).sum() + (grad_h_n * h_n).sum()
    loss.backward()
    grad = lambda t: flat(t.grad) if t.grad is not None else [0.0] * t.numel()
    options = {k: c[k] for k in ("input_size", "hidden_size", "num_layers", "nonlinearity",
                                 "batch_first", "bidirectional")}
    options["bias"] = True
    return {
        "name": name_of(c),
        "generator": "tools/make_packed_fixtures.py, torch %s, float64" % torch.__version__,
        "options": options, "seq_len": T, "batch": B, "lengths": c["lengths"],
        "parameters": [{"name": n, "shape": list(p.shape), "values": flat(p)}
                       for n, p in rnn.named_parameters()],
        "input": {"shape": list(in_shape), "values": flat(x)},
        "h0": None if h0 is None else {"shape": list(state_shape), "values": flat(h0)},
        "grad_output": flat(grad_output), "grad_h_n": flat(grad_h_n),
        "output": {"shape": list(output.shape), "values": flat(output)},
        "h_n": {"shape": list(h_n.shape), "values": flat(h_n)},
        "grad_parameters": [{"name": n, "values": grad(p)} for n, p in rnn.named_parameters()],
        "grad_input": grad(x),
        "grad_h0": None if h0 is None else grad(h0),
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.join(root, "tests", "sequences", "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    names = []
    for index, c in enumerate(CASES):
        case = make_case(index, c)
        names.append(case["name"] + ".json")
        with open(os.path.join(out_dir, names[-1]), "w") as f:
            json.dump(case, f, separators=(",", ":"))
            f.write("\n")
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump({"cases": names}, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(names), out_dir))


if __name__ == "__main__":
    main()
