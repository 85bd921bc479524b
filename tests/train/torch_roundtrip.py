#!/usr/bin/env python3
"""The PyTorch side of the checkpoint round trip (tests/train/checkpoint_test.cpp).

usage: torch_roundtrip.py ELMAN_CHECKPOINT OUT_DIR

1. Reads elman's safetensors file by hand (struct + json, no safetensors package), loads it into
   the tutorial's RNNPyTorch with load_state_dict(strict=True), and writes the model's output on
   a fixed input to OUT_DIR/torch_on_elman.json.
2. Builds a fresh RNNPyTorch (torch.manual_seed(123)), saves its state_dict by hand as
   OUT_DIR/torch_model.safetensors, and writes its output on the same input to
   OUT_DIR/torch_own.json.
The fixed input is x[b, t, i] = ((k % 7) - 3) * 0.25 with k the row-major index into [2, 5, I].

A checkpoint holding "embedding.weight" is a TokenRNN instead (nn.Embedding + nn.RNN of as many
layers as the file holds + nn.Linear on every step), run on the ids (k * 3 + 1) % V of [2, 5];
the fresh one is TokenRNN(V, E, H, layers, K) after torch.manual_seed(123).
"""
import json
import struct
import sys

import torch
import torch.nn as nn


class RNNPyTorch(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.rnn = nn.RNN(input_size=input_size, hidden_size=hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class TokenRNN(nn.Module):
    def __init__(self, vocabulary, dim, hidden_size, num_layers, output_size):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, dim)
        self.rnn = nn.RNN(input_size=dim, hidden_size=hidden_size, num_layers=num_layers,
                          batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.fc(out)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        count = (end - begin) // 4
        values = struct.unpack("<%df" % count, data[base + begin:base + end])
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(info["shape"])
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().to(torch.float32)
        flat = t.reshape(-1).tolist()
        blob = struct.pack("<%df" % len(flat), *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def fixed_input(input_size):
    n = 2 * 5 * input_size
    return torch.tensor([((k % 7) - 3) * 0.25 for k in range(n)]).reshape(2, 5, input_size)


def both_ways(state, make, x, out_dir):
    model = make()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        y = model(x)
    with open(out_dir + "/torch_on_elman.json", "w") as f:
        json.dump(y.reshape(-1).tolist(), f)

    torch.manual_seed(123)
    own = make()
    write_safetensors(out_dir + "/torch_model.safetensors", own.state_dict())
    with torch.no_grad():
        y = own(x)
    with open(out_dir + "/torch_own.json", "w") as f:
        json.dump(y.reshape(-1).tolist(), f)


def main():
    ckpt, out_dir = sys.argv[1], sys.argv[2]
    state = read_safetensors(ckpt)
    hidden, inp = state["rnn.weight_ih_l0"].shape
    out = state["fc.weight"].shape[0]
    if "embedding.weight" in state:
        vocabulary, dim = state["embedding.weight"].shape
        layers = sum(1 for name in state if name.startswith("rnn.weight_ih_l"))
        ids = torch.tensor([(k * 3 + 1) % vocabulary for k in range(10)]).reshape(2, 5)
        both_ways(state, lambda: TokenRNN(vocabulary, dim, hidden, layers, out), ids, out_dir)
    else:
        both_ways(state, lambda: RNNPyTorch(inp, hidden, out), fixed_input(inp), out_dir)


if __name__ == "__main__":
    main()
