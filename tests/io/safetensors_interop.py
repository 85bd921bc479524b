#!/usr/bin/env python3
# The Python side of the safetensors interop test: writes a file by hand (struct + json + numpy,
# the format as PyTorch's safetensors writes it) and checks a file elman wrote, value by value.
# Usage: safetensors_interop.py write PATH | check PATH. Exit 0 on success, 1 on a mismatch.
import json
import struct
import sys

import numpy as np

# What `write` stores: name -> (dtype, array). F32, F64, F16, BF16, a 0-d scalar, an empty one.
F32 = np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5) - np.float32(1)
F64 = np.array([0.1, -2.5, 1e-3], dtype=np.float64)
F16 = np.array([1.0, -2.0, 0.5, 65504.0], dtype=np.float16)
BF16_SOURCE = np.array([[1.0, -5.0], [3.140625, 0.15625]], dtype=np.float32)  # exact in bf16

# What elman's side of the test writes (tests/io/safetensors_interop_test.cpp, same values).
ELMAN_EXPECTED = {
    "rnn.weight_ih_l0": np.array([[0.25, -0.5], [1.0, 2.0], [-3.0, 1e-7]], dtype=np.float32),
    "rnn.bias_ih_l0": np.array([0.1, 0.2, 0.3], dtype=np.float32),
    "fc.step": np.array(42.0, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
}
ELMAN_METADATA = {"format": "pt", "writer": "elman"}


def bf16_bytes(values):
    # bfloat16 is the top half of a float32 (these values are exact, so no rounding is needed).
    return (values.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()


def write(path):
    tensors = [  # (name, dtype, shape, bytes); the data is laid out in this order
        ("w.f64", "F64", list(F64.shape), F64.astype("<f8").tobytes()),
        ("w.f32", "F32", list(F32.shape), F32.astype("<f4").tobytes()),
        ("w.bf16", "BF16", list(BF16_SOURCE.shape), bf16_bytes(BF16_SOURCE)),
        ("w.f16", "F16", list(F16.shape), F16.astype("<f2").tobytes()),
        ("scalar", "F32", [], np.array(3.25, dtype="<f4").tobytes()),
        ("empty", "F32", [0, 3], b""),
    ]
    header, data = {"__metadata__": {"format": "pt", "writer": "numpy"}}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)  # as the reference writer pads
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return 0


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return out, metadata, n


def check(path):
    tensors, metadata, n = read(path)
    errors = []
    if n % 8:
        errors.append(f"header length {n} is not a multiple of 8")
    if metadata != ELMAN_METADATA:
        errors.append(f"metadata {metadata} != {ELMAN_METADATA}")
    if sorted(tensors) != sorted(ELMAN_EXPECTED):
        errors.append(f"names {sorted(tensors)} != {sorted(ELMAN_EXPECTED)}")
    for name, expected in ELMAN_EXPECTED.items():
        got = tensors.get(name)
        if got is None:
            continue
        if got.shape != expected.shape or not np.array_equal(got, expected):
            errors.append(f"{name}: got {got!r} (shape {got.shape}), expected {expected!r}")
    for e in errors:
        print("safetensors_interop.py:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        print(__doc__ or "usage: safetensors_interop.py write|check PATH", file=sys.stderr)
        sys.exit(2)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else check(sys.argv[2]))
