#!/usr/bin/python3
# Writes tests/fixtures/*.json: torch.nn.RNN's float64 forward and backward over a small grid of
# configurations, so the C++ tests check elman against PyTorch without needing PyTorch.
"""Generate the PyTorch fixtures of the elman test suite.

Run with Debian's python3-torch (apt-get install -y python3-torch):

    /usr/bin/python3 tools/make_fixtures.py [--out tests/fixtures]

Each case file holds the options, torch.nn.RNN's parameters (named_parameters order, names,
shapes, values), the input, h0 (or null), the upstream gradients grad_output and grad_h_n (either
may be null), PyTorch's output and h_n, and the gradients of
    L = sum(grad_output * output) + sum(grad_h_n * h_n)    (absent terms left out)
w.r.t. every parameter, the input and h0. index.json lists the case files. Everything is
float64 and seeded, so the files are the same on every run of the same PyTorch.
"""

import argparse
import json
import os
import random

import torch


def grid():
    """~24 small cases covering tanh/relu, 1-3 layers, uni/bi, batch_first both ways, h0 given
    or omitted, and each upstream gradient present or absent."""
    pick = random.Random(2024)  # sizes and flags drawn per case, not tied to the loop indices
    cases = []
    for nonlinearity in ("tanh", "relu"):
        for num_layers in (1, 2, 3):
            for bidirectional in (False, True):
                for batch_first in (False, True):
                    cases.append(dict(
                        input_size=pick.choice((1, 2, 3, 5)),
                        hidden_size=pick.choice((1, 2, 3, 4, 5)),
                        num_layers=num_layers,
                        nonlinearity=nonlinearity,
                        bias=True,
                        batch_first=batch_first,
                        bidirectional=bidirectional,
                        seq_len=pick.choice((1, 2, 3, 4, 5)),
                        batch=pick.choice((1, 2, 3)),
                        has_h0=pick.random() < 0.6,
                        # 0: both upstream gradients, 1: grad_output only, 2: grad_h_n only
                        upstream=pick.choice((0, 1, 2)),
                    ))
    # bias=False changes the parameter list (no bias_* tensors).
    for nonlinearity in ("tanh", "relu"):
        cases.append(dict(input_size=3, hidden_size=3, num_layers=2, nonlinearity=nonlinearity,
                          bias=False, batch_first=False, bidirectional=True, seq_len=3, batch=2,
                          has_h0=True, upstream=0))
    # The grid must cover what the tests claim it covers.
    for nonlinearity in ("tanh", "relu"):
        for has_h0 in (False, True):
            assert any(c["nonlinearity"] == nonlinearity and c["has_h0"] == has_h0 for c in cases)
    for key, value in (("upstream", 0), ("upstream", 1), ("upstream", 2), ("seq_len", 1),
                       ("batch", 1), ("hidden_size", 1), ("input_size", 1)):
        assert any(c[key] == value for c in cases), (key, value)
    return cases


def case_name(c):
    name = "I%d_H%d_L%d_%s" % (c["input_size"], c["hidden_size"], c["num_layers"],
                               c["nonlinearity"])
    if not c["bias"]:
        name += "_nobias"
    if c["batch_first"]:
        name += "_bf"
    if c["bidirectional"]:
        name += "_bi"
    name += "_T%d_B%d" % (c["seq_len"], c["batch"])
    name += "_h0" if c["has_h0"] else "_noh0"
    name += ("_gout_ghn", "_gout", "_ghn")[c["upstream"]]
    return name


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def make_case(index, c):
    torch.manual_seed(1000 + index)
    dtype = torch.float64
    rnn = torch.nn.RNN(c["input_size"], c["hidden_size"], num_layers=c["num_layers"],
                       nonlinearity=c["nonlinearity"], bias=c["bias"],
                       batch_first=c["batch_first"], bidirectional=c["bidirectional"],
                       dtype=dtype)
    T, B, H = c["seq_len"], c["batch"], c["hidden_size"]
    D = 2 if c["bidirectional"] else 1
    in_shape = (B, T, c["input_size"]) if c["batch_first"] else (T, B, c["input_size"])
    out_shape = (B, T, D * H) if c["batch_first"] else (T, B, D * H)
    state_shape = (c["num_layers"] * D, B, H)
    x = torch.randn(in_shape, dtype=dtype, requires_grad=True)
    h0 = (0.5 * torch.randn(state_shape, dtype=dtype)).requires_grad_() if c["has_h0"] else None
    grad_output = torch.randn(out_shape, dtype=dtype) if c["upstream"] in (0, 1) else None
    grad_h_n = torch.randn(state_shape, dtype=dtype) if c["upstream"] in (0, 2) else None

    output, h_n = rnn(x, h0)
    loss = torch.zeros((), dtype=dtype)
    if grad_output is not None:
        loss = loss + (grad_output * output).sum()
    if grad_h_n is not None:
        loss = loss + (grad_h_n * h_n).sum()
    loss.backward()

    def grad_of(t):
        return flat(t.grad) if t.grad is not None else [0.0] * t.numel()

    return {
        "name": case_name(c),
        "generator": "tools/make_fixtures.py, torch %s, float64" % torch.__version__,
        "options": {key: c[key] for key in ("input_size", "hidden_size", "num_layers",
                                            "nonlinearity", "bias", "batch_first",
                                            "bidirectional")},
        "seq_len": T,
        "batch": B,
        "parameters": [{"name": n, "shape": list(p.shape), "values": flat(p)}
                       for n, p in rnn.named_parameters()],
        "input": {"shape": list(in_shape), "values": flat(x)},
        "h0": None if h0 is None else {"shape": list(state_shape), "values": flat(h0)},
        "grad_output": None if grad_output is None else flat(grad_output),
        "grad_h_n": None if grad_h_n is None else flat(grad_h_n),
        "output": {"shape": list(output.shape), "values": flat(output)},
        "h_n": {"shape": list(h_n.shape), "values": flat(h_n)},
        "grad_parameters": [{"name": n, "values": grad_of(p)} for n, p in rnn.named_parameters()],
        "grad_input": grad_of(x),
        "grad_h0": None if h0 is None else grad_of(h0),
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(root, "tests", "fixtures"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # same reduction order on every machine
    names = []
    for index, c in enumerate(grid()):
        case = make_case(index, c)
        names.append(case["name"] + ".json")
        with open(os.path.join(args.out, names[-1]), "w") as f:
            json.dump(case, f, separators=(",", ":"))
            f.write("\n")
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"cases": names}, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(names), args.out))


if __name__ == "__main__":
    main()
