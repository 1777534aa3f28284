#!/usr/bin/env bash
# Candle's CPU forward pass against PyTorch's, on the same architecture, weights, input and
# number of threads, for the reference models unet, resnet and multitask.
#
#   bash reference-model/bench/forward.sh
#
# Builds examples/forward_bench.rs in release, sets up the PyTorch virtual environment
# (.venv-torch at the repository root, from requirements-torch.txt) on first use, then for
# each architecture: Candle draws seeded weights and saves them, times its forward pass and
# writes its outputs; PyTorch loads those weights and Candle's input, times its forward pass
# and compares outputs. Prints a table and fails if any output differs by 1e-4 or more.
#
# Settings (environment): THREADS (default: nproc) for both sides, SLICES (32), SIZE (96),
# WARMUP (2) and REPS (10) forwards per run, ROUNDS (3) of alternating Candle and PyTorch
# runs (the median is over all ROUNDS * REPS timed forwards), ARCHS ("unet resnet multitask"),
# WEIGHTS=shipped to use reference-model/weights/<name>.safetensors instead of random ones,
# KEEP=DIR to keep weights, outputs and JSON there, CARGO_TARGET_DIR (default: target/),
# MODE=train to time training steps (forward in train mode, loss, backward, AdamW) instead
# of forwards, CONV=candle to run Candle's own conv2d instead of the pipeline's im2col path
# (reference-model/src/nets/conv.rs), NORM=candle to run Candle's own train-mode batch norm
# instead of the fused one (reference-model/src/nets/norm.rs), ALLOC=system to build
# Candle's side on the system allocator instead of mimalloc, the triageboard binary's (glibc's
# malloc can be tuned with GLIBC_TUNABLES, which both sides then read). In train mode the
# check is the first step's loss.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench="$root/reference-model/bench"
venv="$root/.venv-torch"
threads="${THREADS:-$(nproc)}"
slices="${SLICES:-32}"
size="${SIZE:-96}"
warmup="${WARMUP:-2}"
reps="${REPS:-10}"
rounds="${ROUNDS:-3}"
archs="${ARCHS:-unet resnet multitask}"
mode="${MODE:-forward}"
conv="${CONV:-fast}"
norm="${NORM:-fused}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

if ! "$venv/bin/python" -c 'import torch, safetensors' 2>/dev/null; then
    echo "setting up $venv (torch for CPU; about 3 GB from PyPI)" >&2
    python3 -m venv "$venv"
    # Keeps the environment out of git whatever the repository's .gitignore says.
    echo '*' > "$venv/.gitignore"
    "$venv/bin/pip" install --quiet -r "$bench/requirements-torch.txt"
fi

echo "building forward_bench (release)" >&2
# Candle's side runs on mimalloc, as the triageboard binary does, unless ALLOC=system.
features=(--features mimalloc)
[[ "${ALLOC:-mimalloc}" == system ]] && features=()
cargo build --release --quiet -p reference-model --example forward_bench "${features[@]}"
candle="$CARGO_TARGET_DIR/release/examples/forward_bench"

if [[ -n "${KEEP:-}" ]]; then
    work="$KEEP"
    mkdir -p "$work"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi

# Both sides get the same number of threads: Candle reads RAYON_NUM_THREADS and
# CANDLE_NUM_THREADS, PyTorch is told with torch.set_num_threads.
export RAYON_NUM_THREADS="$threads" CANDLE_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"

# Rounds alternate the two sides, so that load from other processes on the machine, which
# comes and goes, weighs on both alike; each side's median is over all its timed runs.
for round in $(seq 1 "$rounds"); do
    for arch in $archs; do
        if [[ "${WEIGHTS:-random}" == shipped ]]; then
            weights="$root/reference-model/weights/$arch.safetensors"
            weight_flag=(--weights "$weights")
        else
            # The first round draws the weights and saves them; later rounds load them.
            weights="$work/$arch.weights.safetensors"
            weight_flag=(--save-weights "$weights")
            [[ "$round" == 1 ]] || weight_flag=(--weights "$weights")
        fi
        echo "round $round/$rounds, $arch: candle" >&2
        "$candle" "$arch" --out "$work/$arch.candle.safetensors" "${weight_flag[@]}" \
            --slices "$slices" --size "$size" --warmup "$warmup" --reps "$reps" \
            --mode "$mode" --conv "$conv" --norm "$norm" > "$work/$arch.candle.$round.json"
        config="$("$venv/bin/python" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["arch_config"]))' \
            < "$work/$arch.candle.$round.json")"
        echo "round $round/$rounds, $arch: pytorch" >&2
        "$venv/bin/python" "$bench/torch_nets.py" --arch-config "$config" --weights "$weights" \
            --candle-out "$work/$arch.candle.safetensors" --threads "$threads" \
            --warmup "$warmup" --reps "$reps" --mode "$mode" > "$work/$arch.torch.$round.json"
    done
done

"$venv/bin/python" - "$work" "$rounds" $archs <<'EOF'
import json
import os
import statistics
import sys

work, rounds, archs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
TOLERANCE = 1e-4


def runs(arch, side):
    return [json.load(open(os.path.join(work, f"{arch}.{side}.{r}.json"))) for r in range(1, rounds + 1)]


rows, failed = [], False
for arch in archs:
    candle, torch = runs(arch, "candle"), runs(arch, "torch")
    c_ms = [ms for run in candle for ms in run["all_ms"]]
    t_ms = [ms for run in torch for ms in run["all_ms"]]
    # Outputs (probabilities) must agree to TOLERANCE; features, whose scale depends on the
    # weights, to TOLERANCE relative to their largest magnitude. Every round is checked.
    worst = {}
    for c_run, t_run in zip(candle, torch):
        if t_run.get("mode") == "train":
            diff = abs(c_run["first_loss"] - t_run["first_loss"])
            worst["first loss"] = max(worst.get("first loss", 0.0), diff)
            continue
        for name, diff in t_run["max_abs_diff"].items():
            worst[name] = max(worst.get(name, 0.0), diff)
    checks = []
    for name, diff in worst.items():
        limit = TOLERANCE * max(1.0, torch[0]["max_abs"][name]) if name == "features" else TOLERANCE
        failed |= diff >= limit
        checks.append(f"{name} {diff:.1e}{'' if diff < limit else ' FAIL'}")
    c_med, t_med = statistics.median(c_ms), statistics.median(t_ms)
    rows.append((arch, c_med, t_med, min(c_ms) / min(t_ms), len(c_ms), "; ".join(checks)))

first = runs(archs[0], "torch")[0]
candle_first = runs(archs[0], "candle")[0]
weights = candle_first["weights"]
what = "training steps" if candle_first["mode"] == "train" else "forwards"
print(
    f"input {first['input']}, {first['threads']} threads each side, {rounds} alternating rounds of "
    f"{first['warmup']} warm-up + {first['reps']} timed {what}, Candle conv: {candle_first['conv']}, norm: {candle_first['norm']}, "
    f"allocator: {candle_first.get('alloc', 'system')}, "
    f"torch {first['torch']}, weights: {weights}"
)
print(f"{'arch':<10} {'Candle ms':>10} {'PyTorch ms':>11} {'Candle/PyTorch':>15} {'(of minima)':>12}  {'runs':>4}  max abs diff")
for arch, c, t, ratio_min, n, checks in rows:
    print(f"{arch:<10} {c:>10.1f} {t:>11.1f} {c / t:>15.2f} {ratio_min:>12.2f}  {n:>4}  {checks}")
print("ms: median over all timed forwards; Candle/PyTorch: ratio of the medians (of the minima beside it)")
sys.exit(1 if failed else 0)
EOF
