#!/usr/bin/env bash
# elman-train refuses misuse before it costs anything and never loses a run: bad option values
# name the option and its range; --out over an existing run needs --resume or --force; a resume
# of another run names what differs; UTF-8 text trains, saves, resumes and samples; a run
# killed with SIGKILL keeps metrics.csv up to its last epoch.
# Usage: misuse_check.sh ELMAN_TRAIN DATA_DIR SCRATCH_DIR
set -u
EXE=$1 DATA=$2 DIR=$3
rm -rf "$DIR" && mkdir -p "$DIR"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# expect_error SUBSTRING ARGS...: elman-train must exit non-zero and print SUBSTRING.
expect_error() {
  local want=$1; shift
  local out rc
  out=$("$EXE" "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then fail "accepted: $*"; return; fi
  case "$out" in *"$want"*) ;; *) fail "elman-train $* printed no '$want':"$'\n'"$out" ;; esac
}
run_ok() {
  local out
  out=$("$EXE" "$@" 2>&1) || fail "elman-train $* failed:"$'\n'"$out"
}

SUN="series --csv $DATA/sunspots_yearly.csv --column SUNACTIVITY --device cpu"
# 1. Option values: named, with readable bounds; nothing is created.
expect_error "--clip: must be a finite number from 0 to" $SUN --clip nan --out "$DIR/bad"
expect_error "--clip: must be a finite number from 0 to" $SUN --clip -1 --out "$DIR/bad"
expect_error "--seed: must be an integer from 0 to 18446744073709551615" $SUN --seed -1 --out "$DIR/bad"
expect_error "--examples: must be an integer from 1 to 10000000" next-number --examples 1000000000 --out "$DIR/bad"
expect_error "--lr: must be a finite number" next-number --lr inf --out "$DIR/bad"
printf 'to be or not to be, that is the question\n%.0s' {1..40} >"$DIR/lower.txt"
CH="chars --text $DIR/lower.txt --device cpu --seq-len 20 --hidden 8 --batch 8 --epochs 1"
expect_error "--temperature: must be a finite number > 0" $CH --temperature nan --out "$DIR/bad"
expect_error "--max-chars: must be an integer from 0 to" $CH --max-chars -5 --out "$DIR/bad"
# 2. A prime the text cannot start: refused before training, no folder left behind.
expect_error "--prime 'ROMEO:'" $CH --out "$DIR/bad"
expect_error "'R' (U+0052), is not in the vocabulary" $CH --out "$DIR/bad"
expect_error "--prime must hold at least one character" $CH --prime '' --out "$DIR/bad"
expect_error "is a directory" chars --text "$DIR" --out "$DIR/bad"
[ -e "$DIR/bad" ] && fail "a refused run left $DIR/bad behind"

# 3. --out over an existing run: refused without --resume or --force, nothing touched.
run_ok $SUN --window 10 --epochs 2 --out "$DIR/sun"
before=$(sha256sum "$DIR/sun/model.safetensors" "$DIR/sun/metrics.csv")
expect_error "pass --resume" walkthrough --device cpu --out "$DIR/sun"
[ "$before" = "$(sha256sum "$DIR/sun/model.safetensors" "$DIR/sun/metrics.csv")" ] ||
  fail "a refused --out changed the run"
run_ok walkthrough --device cpu --out "$DIR/walk" && run_ok walkthrough --device cpu --out "$DIR/walk" --force

# 4. --resume of another run names what differs; of the same run, in place, continues it.
expect_error "window: this run '12', the checkpoint '10'" $SUN --window 12 --epochs 3 --resume "$DIR/sun"
expect_error "scenario: this run 'next-number', the checkpoint 'series'" next-number --resume "$DIR/sun"
touch "$DIR/sun/training.safetensors.tmp-999-dead"  # what a SIGXFSZ kill leaves
run_ok $SUN --window 10 --epochs 3 --resume "$DIR/sun"
[ -e "$DIR/sun/training.safetensors.tmp-999-dead" ] && fail "a stale temporary file was left"
[ "$(grep -c . "$DIR/sun/command.txt")" -eq 2 ] || fail "command.txt does not hold both commands"
[ "$(tail -n +2 "$DIR/sun/metrics.csv" | cut -d, -f1 | tr '\n' ' ')" = "1 2 3 " ] ||
  fail "metrics.csv of the resumed run is not epochs 1..3: $(cat "$DIR/sun/metrics.csv")"

# 5. UTF-8 text: trains, saves, resumes and samples, characters as characters.
for i in $(seq 60); do echo "Le café de l’été — 日本の夏, déjà vu n°$i."; done >"$DIR/utf8.txt"
U="chars --text $DIR/utf8.txt --device cpu --seq-len 16 --hidden 16 --batch 8 --prime é --sample 40"
run_ok $U --epochs 1 --out "$DIR/utf8"
for f in model.safetensors training.safetensors hidden_states.csv metrics.csv; do
  [ -s "$DIR/utf8/$f" ] || fail "chars on UTF-8 text wrote no $f"
done
out=$("$EXE" $U --epochs 2 --resume "$DIR/utf8" 2>&1) || fail "UTF-8 resume failed: $out"
case "$out" in *"sample (temperature"*) ;; *) fail "no sample after the UTF-8 resume: $out" ;; esac

# 6. SIGKILL mid-run: metrics.csv holds every finished epoch.
head -c 200000 "$DATA/tinyshakespeare.txt" >"$DIR/shake.txt"
"$EXE" chars --text "$DIR/shake.txt" --device cpu --hidden 32 --epochs 100 --out "$DIR/killed" \
  >"$DIR/killed.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ "$(tail -n +2 "$DIR/killed/metrics.csv" 2>/dev/null | grep -c .)" -ge 1 ] && break
  sleep 0.1
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
rows=$(tail -n +2 "$DIR/killed/metrics.csv" 2>/dev/null | grep -c .)
[ "${rows:-0}" -ge 1 ] || fail "after kill -9 metrics.csv holds no epoch"
[ -s "$DIR/killed/training.safetensors" ] || fail "after kill -9 there is no training checkpoint"

if [ $FAILS -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
echo "all elman-train misuse checks passed"
