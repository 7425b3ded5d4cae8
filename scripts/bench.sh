#!/usr/bin/env bash
# The benchmark suite (docs/benchmarks.md): S (10k members) and M (1M members) by default: S ~15 min; M ~2 h on
# 2 cores with ~80 GB of free disk for its scratch folder.
# L (10M members, 14 days of events) is not in the default: `./scripts/bench.sh --scale L` runs its generator, raw
# load, extraction and GX gate (~60 GB of free disk; see benchmarks/common.py L_EVENT_DAYS).
# Writes docs/benchmarks.md and benchmarks/results/<date>.json. Extra arguments go to `python -m benchmarks run`,
# e.g. `./scripts/bench.sh --scale S` for the ~10-minute run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
export DO_NOT_TRACK=1 GX_ANALYTICS_ENABLED=False DBT_SEND_ANONYMOUS_USAGE_STATS=False
if [[ " $* " != *" --scale "* ]]; then
  set -- --scale S,M "$@"
fi
echo "free disk under ${TMPDIR:-/tmp}: $(df -h --output=avail "${TMPDIR:-/tmp}" | tail -1); available memory: $(awk '/MemAvailable/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
uv run --frozen --no-sync python -m benchmarks run "$@"
