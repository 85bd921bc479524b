#!/usr/bin/env bash
# elman-train chars with a learned embedding, two layers and dropout trains end to end on the
# CPU, and its model.safetensors loads into PyTorch's nn.Embedding + nn.RNN + nn.Linear module
# with load_state_dict(strict=True) (tests/train/torch_roundtrip.py) where /usr/bin/python3 has
# torch. usage: chars_pytorch_check.sh ELMAN_TRAIN DATA_DIR ROUNDTRIP_PY RUN_DIR
set -euo pipefail
exe=$1 data=$2 roundtrip=$3 dir=$4
"$exe" chars --device cpu --text "$data/tinyshakespeare.txt" --max-chars 20000 --epochs 2 \
  --hidden 32 --embedding-dim 16 --layers 2 --dropout 0.2 --seq-len 25 --sample 40 \
  --no-plots --force --out "$dir/run" | tee "$dir.log"
grep -q "^Embedding(" "$dir.log" || { echo "FAIL: the model has no embedding"; exit 1; }
# The loss must fall below uniform guessing (log2 of the vocabulary, about 5.9 bits).
awk '/^epoch 2\/2/ { if ($4 + 0 >= 5.0) { print "FAIL: train loss " $4 " bits"; exit 1 } }' \
  "$dir.log"
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  echo "chars_pytorch_check: the PyTorch load is skipped: /usr/bin/python3 has no torch"
  exit 0
fi
mkdir -p "$dir/torch"
/usr/bin/python3 "$roundtrip" "$dir/run/model.safetensors" "$dir/torch"
echo "chars_pytorch_check: PyTorch loaded model.safetensors (strict)"
