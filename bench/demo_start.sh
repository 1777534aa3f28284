#!/usr/bin/env bash
# Time from `triageboard serve` on a fresh data folder (the demo: SQLite, the synthetic test
# set generated at first start) to the six reference baselines scored on the public board.
#
#   bash bench/demo_start.sh            # with the shipped cache of the demo's baselines
#   NO_CACHE=1 bash bench/demo_start.sh # the models run (a copy of the weights without it)
#
# Needs the release binary (cargo build --release --locked) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/triageboard
port=${PORT:-8097}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
weights=reference-model/weights
if [ -n "${NO_CACHE:-}" ]; then
    mkdir "$work/weights"
    cp reference-model/weights/*.json reference-model/weights/*.safetensors "$work/weights/"
    weights=$work/weights
fi
start=$(date +%s.%N)
TRIAGEBOARD_REFERENCE_WEIGHTS=$weights "$bin" serve --data-dir "$work/data" --bind "127.0.0.1:$port" \
    > "$work/serve.log" 2>&1 &
pid=$!
rows=0
until [ "$rows" = 6 ]; do
    sleep 1
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
    rows=$(curl -sf "http://127.0.0.1:$port/api/v1/leaderboard?all=true" \
        | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))' 2>/dev/null || echo 0)
done
end=$(date +%s.%N)
python3 -c "print(f'six baselines on the board {float($end) - float($start):.1f} s after the start')"
grep -m1 -i "cached reference baselines\|computing the reference baselines" "$work/serve.log" || true
