#!/usr/bin/env bash
# Scoring benchmark: the Rust scorer against a plain nibabel + numpy implementation of the
# same protocol (reference_scorer.py), on a realistic archive (the synthetic test set's 101
# studies at 512x512 and up to ~300 slices), with the time needed just to inflate the same
# files as the floor. Prints one table; docs/scoring.md records a run.
#
# Usage: bench/score/run.sh [WORKDIR] [PROFILE]   (default /tmp/triageboard-bench, realistic)
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-/tmp/triageboard-bench}"
profile="${2:-realistic}"
mkdir -p "$work"
scripts/ref-env.sh
cargo build --release --locked -q
cargo build --release --locked -q -p scorer --example inflate_only
bin=target/release/triageboard
set_dir="$work/$profile"
if [ ! -f "$set_dir/annotations/labels.csv" ]; then
    "$bin" dataset synth --profile "$profile" --out "$set_dir" --force
fi
if [ ! -f "$work/$profile-submission.zip" ]; then
    .venv/bin/python bench/score/make_submission.py "$set_dir/annotations" "$work/$profile-submission.zip"
fi
sub="$work/$profile-submission.zip"
ann="$set_dir/annotations"

time_of() { # prints wall seconds and peak RSS (MiB) of a command; its stdout goes to $1
    local out="$1"; shift
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$out"
    awk '{printf "%.2f %.0f", $1, $2/1024}' "$work/time.txt"
}

echo "archive: $(du -h "$sub" | cut -f1) zipped, $(unzip -l "$sub" | tail -1 | awk '{print $2}') entries; hidden annotations: $(du -sh "$ann" | cut -f1)"
read -r rust_s rust_mb < <(time_of "$work/rust.json" "$bin" score --annotations "$ann" --submission "$sub")
read -r rust2_s rust2_mb < <(time_of "$work/rust.json" "$bin" score --annotations "$ann" --submission "$sub")
read -r py_s py_mb < <(time_of "$work/python.json" .venv/bin/python bench/score/reference_scorer.py "$ann" "$sub")
read -r inflate_s inflate_mb < <(time_of "$work/inflate.json" target/release/examples/inflate_only "$ann" "$sub")
rust_best=$(python3 -c "print(min($rust_s, $rust2_s))")

.venv/bin/python - "$work/rust.json" "$work/python.json" <<'PY'
import json, sys
rust, py = (json.load(open(p)) for p in sys.argv[1:3])
for key, value in py.items():
    if key.endswith("_ci") or not isinstance(value, float):
        continue
    assert abs(rust[key] - value) < 1e-9, f"{key}: rust {rust[key]} python {value}"
print("point estimates agree (1e-9):", ", ".join(k for k, v in py.items() if isinstance(v, float)))
PY
printf '%-34s %9s %9s\n' "what ($(nproc) cores)" "seconds" "peak MiB"
printf '%-34s %9s %9s\n' "triageboard score (best of 2)" "$rust_best" "$rust_mb"
printf '%-34s %9s %9s\n' "nibabel + numpy (reference_scorer)" "$py_s" "$py_mb"
printf '%-34s %9s %9s\n' "inflate only (flate2 zlib-rs)" "$inflate_s" "$inflate_mb"
python3 -c "print(f'speed-up over Python: {$py_s / $rust_best:.1f}x; scorer time / inflate-only time: {$rust_best / $inflate_s:.2f}')"
