#!/usr/bin/env bash
# The reference pipeline on the GPU against the CPU, on realistic-profile studies, in one go
# on the GPU machine (issue 5). Run from a folder holding `triageboard` or `triageboard.xz`
# (the CUDA build of scripts/build-cuda.sh, stripped: 69 MB, 11 MB as xz, so that it fits the
# device's 64 MiB transfer) and `weights/` (reference-model/weights):
#
#   bash gpu.sh [STUDIES]        # default 2 realistic studies, generated on the spot
#
# For every model: `reference predict` on each study on the GPU and on the CPU, stage times
# per study (load, lungs, model, write), peak GPU memory (nvidia-smi, sampled every 50 ms),
# a check that GPU and CPU agree (probabilities and affected percentages within 1e-3
# relative, masks almost identical, scores equal to 3 decimals), and a Markdown table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/gpu-env.sh"
bin="$(unpacked "${BIN:-$here/triageboard}")"
weights="${WEIGHTS:-$here/weights}"
studies="${1:-2}"
work="${WORK:-$(mktemp -d)}"
out="${OUT:-$work}"
models="${MODELS:-threshold unet unet-plus unet3d resnet multitask}"
cuda_libraries "$bin"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

echo "generating $studies realistic studies" >&2
"$bin" dataset synth --out "$work/data" --profile realistic --split test --count "$studies" --force 2>&1 | tail -1

for model in $models; do
    ext=zip; [[ "$model" == resnet ]] && ext=csv
    for dev in cuda cpu; do
        if [[ "$dev" == cuda ]]; then
            nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$work/mem-$model.txt" &
            smi=$!
        fi
        "$bin" reference predict --images "$work/data/images" --model "$model" --weights "$weights" \
            --out "$work/$model-$dev.$ext" --times "$out/times-$model-$dev.json" --device "$dev" 2>&1 | grep -v '^\s*$' | tail -1
        if [[ "$dev" == cuda ]]; then kill "$smi"; fi
        "$bin" score --annotations "$work/data/annotations" --submission "$work/$model-$dev.$ext" > "$out/scores-$model-$dev.json"
    done
done

python3 - "$work" "$out" "$models" <<'PY'
import csv, gzip, io, json, sys, zipfile
import numpy as np
work, out, models = sys.argv[1], sys.argv[2], sys.argv[3].split()

def table(path):
    if path.endswith(".csv"):
        text = open(path).read()
    else:
        text = zipfile.ZipFile(path).read("predictions.csv").decode()
    return {r["study_id"]: r for r in csv.DictReader(io.StringIO(text))}

def masks(path):
    if not path.endswith(".zip"):
        return {}
    z = zipfile.ZipFile(path)
    return {n: np.frombuffer(gzip.decompress(z.read(n))[352:], np.uint8) for n in z.namelist() if n.endswith(".nii.gz")}

base = json.load(open(f"{out}/scores-multitask-cpu.json")) if "multitask" in models else None
rows, ok = [], True
for m in models:
    ext = "csv" if m == "resnet" else "zip"
    g, c = table(f"{work}/{m}-cuda.{ext}"), table(f"{work}/{m}-cpu.{ext}")
    worst = 0.0
    for sid, r in c.items():
        for k, v in r.items():
            if k == "study_id":
                continue
            a, b = float(v), float(g[sid][k])
            worst = max(worst, abs(a - b) / max(abs(a), 1e-3))
    mg, mc = masks(f"{work}/{m}-cuda.{ext}"), masks(f"{work}/{m}-cpu.{ext}")
    differ = max([float((mg[n] != mc[n]).mean()) for n in mc] or [0.0])
    sg, sc = json.load(open(f"{out}/scores-{m}-cuda.json")), json.load(open(f"{out}/scores-{m}-cpu.json"))
    same = all((sg[k] is None and sc[k] is None) or (sg[k] is not None and sc[k] is not None and round(sg[k], 3) == round(sc[k], 3))
               for k in ("auc_vs_all", "spearman", "dice"))
    tg, tc = json.load(open(f"{out}/times-{m}-cuda.json")), json.load(open(f"{out}/times-{m}-cpu.json"))
    try:
        mem = max(int(l) for l in open(f"{work}/mem-{m}.txt") if l.strip().isdigit())
    except ValueError:
        mem = -1
    good = worst < 1e-3 and differ < 1e-3 and same
    ok &= good
    for i, (a, b) in enumerate(zip(tg, tc)):
        total = a["load"] + a["lungs"] + a["lesions"] + a["write"]
        rows.append(f"| {m} | {i + 1} | {a['load']:.2f} | {a['lungs']:.2f} | {a['lesions']:.2f} | {a['write']:.2f} | **{total:.2f}** | {mem} | "
                    f"{b['load'] + b['lungs'] + b['lesions'] + b['write']:.2f} | {worst:.1e} / {differ:.1e} | {'yes' if good else 'NO'} |")
head = ("| model | study | load s | lungs s | model s | write s | GPU total s | peak GPU MiB | CPU total s | rel. err. / mask diff | agree |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|")
text = head + "\n" + "\n".join(rows) + "\n"
open(f"{out}/table.md", "w").write(text)
print(text)
print("GPU and CPU agree" if ok else "GPU and CPU DISAGREE")
sys.exit(0 if ok else 1)
PY
