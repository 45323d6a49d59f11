#!/usr/bin/env bash
# A/B two commits of Sluice on this machine: each is checked out in a worktree, installed and
# built (napi build from source; one shared cargo target dir), then the same fan-out, produce and
# latency benchmarks run with each version's own `sluice bench`, alternating A, B, A, B, ... so
# that the machine's drift falls on both. What a restructure must show: no cell worse beyond the
# spread between rounds. Results (JSON, SVG, tables) in OUT.
#
# Usage: bench/ab.sh REV_A REV_B [ROUNDS] [OUT]     (e.g. bench/ab.sh aa253f3 2073ea1 2 /tmp/ab)
set -euo pipefail
a=${1:?REV_A}; b=${2:?REV_B}; rounds=${3:-2}; out=${4:-$(mktemp -d -t sluice-ab-XXXXXX)}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
mkdir -p "$out/results"
for rev in "$a" "$b"; do
  dir="$out/$rev"
  [ -d "$dir" ] || git -C "$repo" worktree add --detach "$dir" "$rev" >/dev/null
  (cd "$dir" && CARGO_TARGET_DIR="$out/target" npm ci >"$out/$rev.install.log" 2>&1 && { npm run build:tools >>"$out/$rev.install.log" 2>&1 || true; })
done
for round in $(seq 1 "$rounds"); do
  for rev in "$a" "$b"; do
    cd "$out/$rev"
    r="$out/results/$rev"
    echo "== $rev round $round $(date +%T)"
    node dist/src/cli/main.js bench fanout --protocol sluice,kafka --gib 0.25 --paths sendfile --consumers 1,16 --repeat 3 --seconds 2 --no-raw --json "$r-fanout-$round.json" --chart "$r-fanout-$round.svg" >"$r-fanout-$round.txt"
    node dist/src/cli/main.js bench produce --record-bytes 1024 --producers 1,4 --acks 1,all --repeat 3 --seconds 2 --json "$r-produce-$round.json" --chart "$r-produce-$round.svg" >"$r-produce-$round.txt"
    node dist/src/cli/main.js bench latency --fanout 0,16 --consume fetch,subscribe --seconds 5 --repeat 2 --json "$r-latency-$round.json" --chart "$r-latency-$round.svg" >"$r-latency-$round.txt"
  done
done
echo "results: $out/results (remove the worktrees with: git worktree remove --force $out/$a; git worktree remove --force $out/$b)"
