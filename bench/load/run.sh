#!/usr/bin/env bash
# The board under a crowd (issue 12): seeds a board with ENTRIES scored entries on the
# 101-study synthetic test set, then measures with wrk (Debian's `wrk` package) 200
# concurrent readers of /healthz, the main board page and the leaderboard API, idle and
# while submissions are being scored, and prints each as a ratio to /healthz of the same
# phase, so that the machine's noise cancels.
#
# Usage: bench/load/run.sh [ENTRIES (200)] [SECONDS per run (10)]
# Needs: wrk, curl; builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
entries="${1:-200}"
seconds="${2:-10}"
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked -q
bin="$PWD/target/release/triageboard"
data="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
"$bin" dataset synth --out "$data/testset" >/dev/null 2>&1
port=$((20000 + RANDOM % 20000))
RUST_LOG=warn "$bin" serve --data-dir "$data" --annotations "$data/testset/annotations" \
    --images "$data/testset/images" --bind "127.0.0.1:$port" --max-queue 100000 \
    > "$data/serve.out" 2> "$data/serve.err" &
server=$!
until grep -q "organizer API token" "$data/serve.out" 2>/dev/null; do sleep 0.2; done
token="$(sed -n 's/^organizer API token (shown once, keep it): //p' "$data/serve.out")"
url="http://127.0.0.1:$port"
ids="$(ls "$data/testset/images" | sed 's/\.nii\.gz$//')"

# One submission: a random table of per-study probabilities, uploaded by the organizer
# (no daily quota) under its own method name; prints the new id.
submit() {
    local name="$1" seed="$2"
    printf '%s\n' $ids | awk -v seed="$seed" 'BEGIN { srand(seed); print "study_id,covid_probability,affected_percent" }
        { printf "%s,%.4f,%.2f\n", $1, rand(), 50 * rand() }' > "$data/$name.csv"
    curl -s -H "Authorization: Bearer $token" -F "file=@$data/$name.csv" -F "method=$name" \
        "$url/api/v1/submissions" | sed -n 's/.*"id":\([0-9]*\).*/\1/p'
}

echo "seeding $entries entries..." >&2
seeded=()
for i in $(seq 1 "$entries"); do seeded+=("$(submit "seed-$i" "$i")"); done
for id in "${seeded[@]}"; do
    until curl -s -H "Authorization: Bearer $token" "$url/api/v1/submissions/$id" | grep -q '"status":"scored"'; do
        sleep 0.2
    done
    # Baselines are final: on the main board.
    curl -s -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d '{"value":true}' "$url/api/v1/admin/submissions/$id/baseline"
done
on_board="$(curl -s "$url/api/v1/leaderboard?all=true" | grep -o '"submission_id"' | wc -l)"
echo "$on_board entries on the main board" >&2

# wrk's requests/s, p50 and p99 for one path.
measure() {
    wrk -t2 -c200 -d"${seconds}s" --latency "$url$1" | awk -v path="$1" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        END { printf "%s %s %s %s\n", path, rps, p50, p99 }'
}

# Milliseconds from wrk's "1.23ms" / "456.00us" / "1.20s".
to_ms() { awk -v t="$1" 'BEGIN { if (t ~ /us$/) print t / 1000; else if (t ~ /ms$/) print t + 0; else print t * 1000 }'; }

table() {
    local phase="$1"; shift
    local base_rps base_p99
    read -r _ base_rps _ base_p99 < <(measure /healthz)
    printf '| %s | %s | %s | %s | - | - |\n' "/healthz" "$phase" "$base_rps" "$base_p99"
    for path in "$@"; do
        read -r _ rps p50 p99 < <(measure "$path")
        awk -v p="$path" -v ph="$phase" -v r="$rps" -v b="$base_rps" -v p50="$p50" -v p99="$p99" \
            -v m="$(to_ms "$p99")" -v bm="$(to_ms "$base_p99")" 'BEGIN {
            printf "| %s | %s | %s (p50 %s) | %s | %.2f | %.2f |\n", p, ph, r, p50, p99, r / b, m / bm }'
    done
}

echo "| path | phase | requests/s | p99 | throughput / healthz | p99 / healthz p99 |"
echo "|---|---|---|---|---|---|"
table "idle, $on_board entries" / /api/v1/leaderboard
# Scoring meanwhile: a new submission every 0.5 s, each scored by the worker (every upload,
# start and score changes the board's generation).
( i=0; while true; do i=$((i + 1)); submit "busy-$i" "$((100000 + i))" >/dev/null; sleep 0.5; done ) &
scoring=$!
table "while scoring" / /api/v1/leaderboard
kill "$scoring" 2>/dev/null || true
