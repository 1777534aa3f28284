#!/usr/bin/env bash
# The paper-size reference models trained on the GPU machine, in one go: the synthetic
# splits generated there, then the four trainable models of docs/reference-models.md
# ("Training on a GPU") side by side on the one GPU, each stopped at a time limit, then
# Table 2 of the trained models on the test split. Run from the repository (or a folder
# holding `triageboard` or `triageboard.xz`, the CUDA build of scripts/build-cuda.sh,
# stripped and xz-compressed to fit the device's 64 MiB transfer; BIN names another path):
#
#   MINUTES=5 OUT=/some/dir bash gpu-train.sh
#
# Writes under $OUT (the device returns at most 8 files of 16 MiB): progress.txt (what
# happened, with times), table2.md, and results.tar.gz holding gpu.txt, ldd.txt, the
# trained models' configs, records and cards (weights/*.json, *.md: the width-64 ResNet's
# 94 MB of weights stay on the machine, WEIGHTS_OUT keeps them elsewhere), one training log
# per model (logs/) and eval.log. Nothing here is shipped: the shipped weights are the
# CPU-trained width-8 models.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/gpu-env.sh"
bin="$(unpacked "${BIN:-$here/triageboard}")"
minutes="${MINUTES:-5}"
final="${OUT:?set OUT to the folder the results go to}"
work="${WORK:-$(mktemp -d)}"
out="$work/results"
mkdir -p "$out"
# Whatever ends the script, what it found so far comes back.
pack() {
    tar czf "$final/results.tar.gz" -C "$out" --exclude '*.safetensors' . 2>/dev/null
    cp "$out/progress.txt" "$out/table2.md" "$final/" 2>/dev/null
    if [[ -n "${WEIGHTS_OUT:-}" ]]; then mkdir -p "$WEIGHTS_OUT" && cp "$out"/weights/* "$WEIGHTS_OUT/"; fi
}
trap pack EXIT
cuda_libraries "$bin"
mkdir -p "$out/weights" "$out/logs"
ldd "$bin" | grep -E 'cud|cublas|curand|not found' > "$out/ldd.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
nproc | sed 's/^/host cores: /' | tee -a "$out/gpu.txt"

stamp() { echo "[$(date +%T)] $*" | tee -a "$out/progress.txt"; }

stamp "generating the train (400 and 1200), val and test splits"
"$bin" dataset synth --out "$work/train" --split train --force > /dev/null 2>&1 &
"$bin" dataset synth --out "$work/train-1200" --split train --count 1200 --force > /dev/null 2>&1 &
"$bin" dataset synth --out "$work/val" --split val --force > /dev/null 2>&1 &
"$bin" dataset synth --out "$work/test" --split test --force > /dev/null 2>&1 &
wait
stamp "splits written"

# With FORWARD_BENCH (the CUDA build of examples/forward_bench, or its .xz): one training
# step of the width-32 multitask network on 128 slices and of the width-64 ResNet on 32,
# with the default convolution of training on a GPU (conv::conv2d_unfold) and with
# Candle's conv2d (cuDNN), into bench.jsonl.
fb="${FORWARD_BENCH:-}"
if [[ -n "$fb" ]]; then fb="$(unpacked "$fb")"; fi
if [[ -n "$fb" ]]; then
    for spec in "multitask 32 128" "resnet 64 32"; do
        read -r name width slices <<< "$spec"
        for conv in fast candle; do
            timeout 60 "$fb" "$name" --mode train --device cuda --width "$width" --slices "$slices" \
                --size 96 --conv "$conv" --warmup 1 --reps 4 --save-weights "$work/bench-$name.safetensors" \
                --out "$work/bench-$name-$conv.safetensors" >> "$out/bench.jsonl" 2>> "$out/bench.log"
            stamp "bench $name $conv: exit $? $(tail -1 "$out/bench.jsonl" | grep -o '"median_ms":[0-9.]*')"
        done
    done
fi

# name, width, extra arguments: the recipe of docs/reference-models.md.
models=(
    "lungs 32 --train $work/train"
    "unet 32 --train $work/train"
    "resnet 64 --train $work/train-1200"
    "multitask 32 --train $work/train --slices 32"
)

# The runs, side by side on the one GPU: 5000 steps each at most, stopped after $minutes
# minutes. A run that fails (a missing kernel, say) fails in seconds without stopping the others.
threads=$(( $(nproc) / ${#models[@]} ))
for spec in "${models[@]}"; do
    read -r name width extra <<< "$spec"
    RAYON_NUM_THREADS=$threads timeout $(( minutes * 60 + 240 )) "$bin" reference train --model "$name" --width "$width" $extra \
        --val "$work/val" --steps 5000 --minutes "$minutes" --device cuda --weights "$out/weights" \
        > "$out/logs/$name.log" 2>&1 &
done
wait
ok=()
for spec in "${models[@]}"; do
    read -r name _ <<< "$spec"
    if [[ -f "$out/weights/$name.md" ]]; then ok+=("$spec"); fi
    stamp "$name: $(tail -2 "$out/logs/$name.log" | tr '\n' ' ' | cut -c1-400)"
done

# Table 2 of what trained, on the GPU; the lungs stage is the width-32 lungs model when it
# trained, the shipped one otherwise.
if [[ ! -f "$out/weights/lungs.safetensors" ]]; then
    cp "$here/../weights/lungs.json" "$here/../weights/lungs.safetensors" "$out/weights/"
fi
trained=$(for spec in "${ok[@]}"; do read -r name _ <<< "$spec"; [[ "$name" != lungs && -f "$out/weights/$name.safetensors" ]] && echo "$name"; done | paste -sd,)
if [[ -n "$trained" ]]; then
    stamp "evaluating $trained on the test split"
    timeout "${EVAL_SECONDS:-300}" "$bin" reference eval --data "$work/test" --weights "$out/weights" --models "$trained" \
        --out "$work/eval" --device cuda > "$out/table2.md" 2> "$out/eval.log"
    stamp "eval exit $?"
    cat "$out/table2.md"
fi
