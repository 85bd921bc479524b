#!/usr/bin/env bash
# elman-train under mpirun -np 2 (data-parallel over MPI, on the CPU): every scenario runs and
# prints once; a series run matches the one-process run's losses within float32 summation
# error; a 2-rank checkpoint resumes in a 2-rank run byte-identically and is refused by one
# rank; a fault injected on rank 1 stops both ranks with its message, printed once, no hang.
# Usage: data_parallel_check.sh ELMAN_TRAIN MPIEXEC DATA_DIR SCRATCH_DIR
set -u
EXE=$1 MPIEXEC=$2 DATA=$3 DIR=$4
rm -rf "$DIR" && mkdir -p "$DIR"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # containers and CI run as root
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# mpirun's own --timeout ends a hung job (and the ctest timeout backs it up).
two() { "$MPIEXEC" -np 2 --oversubscribe --timeout 100 "$EXE" "$@"; }
# count PATTERN TEXT: lines of TEXT holding PATTERN.
count() { printf '%s\n' "$2" | grep -c -- "$1"; }

SUN="series --csv $DATA/sunspots_yearly.csv --column SUNACTIVITY --window 30 --bptt 10 --batch 16 --device cpu"

# 1. series on 2 ranks: success, each line once, one run folder written by rank 0.
out=$(two $SUN --epochs 4 --out "$DIR/two" 2>&1) || fail "series on 2 ranks failed:"$'\n'"$out"
[ "$(count 'trained 4 epochs' "$out")" = 1 ] || fail "series on 2 ranks printed 'trained' not once:"$'\n'"$out"
[ "$(count '^epoch ' "$out")" = 4 ] || fail "series on 2 ranks printed not 4 epoch lines:"$'\n'"$out"
for f in model.safetensors training.safetensors metrics.csv predictions.csv command.txt; do
  [ -f "$DIR/two/$f" ] || fail "2-rank run folder lacks $f"
done

# 2. The same run in one process: the same losses within float32 summation error (1e-4
#    relative: a few ulps per step, over 4 epochs of Adam).
out=$("$EXE" $SUN --epochs 4 --out "$DIR/one" 2>&1) || fail "series in one process failed:"$'\n'"$out"
python3 - "$DIR/one/metrics.csv" "$DIR/two/metrics.csv" <<'PY' || fail "2-rank losses differ from one process"
import csv, sys
one, two = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(one) == len(two) == 4, (len(one), len(two))
for a, b in zip(one, two):
    for k in ("train_loss", "val_loss"):
        x, y = float(a[k]), float(b[k])
        assert abs(x - y) <= 1e-4 * abs(x), (a["epoch"], k, x, y)
PY

# 3. Resume: 2 epochs + 2 resumed on 2 ranks == 4 straight on 2 ranks, byte for byte.
out=$(two $SUN --epochs 2 --out "$DIR/first" 2>&1) || fail "first half failed:"$'\n'"$out"
out=$(two $SUN --epochs 4 --resume "$DIR/first" --out "$DIR/resumed" 2>&1) ||
  fail "resumed half failed:"$'\n'"$out"
cmp -s "$DIR/two/model.safetensors" "$DIR/resumed/model.safetensors" ||
  fail "a resumed 2-rank run ended with other weights than the uninterrupted one"
out=$("$EXE" $SUN --epochs 4 --resume "$DIR/first" --out "$DIR/alone" 2>&1) &&
  fail "one process resumed a 2-rank checkpoint"
[ "$(count 'written by a run on 2 ranks, this trainer runs on 1 rank' "$out")" = 1 ] ||
  fail "the rank-count refusal is not named:"$'\n'"$out"

# 4. A fault on rank 1 (an exception at optimizer step 3): both ranks stop, the message once.
out=$(ELMAN_TRAIN_INJECT_FAULT=1:3 two $SUN --epochs 2 --out "$DIR/fault" 2>&1) &&
  fail "the injected fault did not fail the run"
[ "$(count 'rank 1 of 2 failed, every rank stopped' "$out")" = 1 ] ||
  fail "the fault was not reported once:"$'\n'"$out"
# Non-finite gradients on rank 1: both ranks stop; the message names the rank and the step.
out=$(ELMAN_TRAIN_INJECT_FAULT=1:3:nan two $SUN --epochs 2 --out "$DIR/nan" 2>&1) &&
  fail "the injected NaN did not stop the run"
[ "$(count 'step 3 of .* on rank 1: grad of rnn.weight_ih_l0 is not finite' "$out")" = 1 ] ||
  fail "the NaN was not reported once:"$'\n'"$out"

# 5. The other scenarios on 2 ranks: next-number (checks its own predictions), walkthrough,
#    chars; each prints its summary once.
out=$(two next-number --device cpu --out "$DIR/nn" 2>&1) || fail "next-number on 2 ranks:"$'\n'"$out"
[ "$(count 'all predictions within 0.5' "$out")" = 1 ] || fail "next-number printed:"$'\n'"$out"
out=$(two walkthrough --device cpu --out "$DIR/walk" 2>&1) || fail "walkthrough on 2 ranks:"$'\n'"$out"
[ "$(count 'one forward() over the whole sequence gives the same states' "$out")" = 1 ] ||
  fail "walkthrough printed:"$'\n'"$out"
printf 'to be or not to be, that is the question\n%.0s' {1..40} >"$DIR/text.txt"
out=$(two chars --text "$DIR/text.txt" --device cpu --seq-len 20 --hidden 8 --batch 8 --epochs 2 \
  --prime to --out "$DIR/chars" 2>&1) || fail "chars on 2 ranks:"$'\n'"$out"
[ "$(count 'run folder:' "$out")" = 1 ] || fail "chars printed:"$'\n'"$out"

if [ $FAILS -gt 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
echo "elman-train on 2 ranks: every check passed"
