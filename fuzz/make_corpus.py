#!/usr/bin/env python3
# Writes the fuzz seed corpus: a few tiny, valid safetensors files covering every dtype elman
# reads, scalars, empty tensors, metadata, padding and an ignored field. Standard library only.
import json
import os
import struct
import sys


def image(entries, metadata=None, pad=True, extra_field=False):
    """entries: list of (name, dtype, shape, raw bytes); data laid out in list order."""
    header, data = {}, b""
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        if extra_field:
            header[name]["comment"] = {"ignored": [1, [2, 3]]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main(out):
    os.makedirs(out, exist_ok=True)
    files = {
        "empty.safetensors": image([]),
        "f32.safetensors": image([("w", "F32", [2], struct.pack("<2f", 1.5, -2.0))],
                                 {"format": "pt"}),
        "mixed.safetensors": image([
            ("a", "F16", [2], struct.pack("<2H", 0x3C00, 0xFC00)),
            ("b", "BF16", [1, 1], struct.pack("<H", 0x3F80)),
            ("c", "F64", [], struct.pack("<d", 0.1)),
            ("d", "F32", [0, 3], b""),
        ]),
        "unpadded_extra.safetensors": image(
            [("rnn.weight_ih_l0", "F32", [1, 2], struct.pack("<2f", 0.25, 4.0))],
            {"k": "v", "epoch": "3"}, pad=False, extra_field=True),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus"))
