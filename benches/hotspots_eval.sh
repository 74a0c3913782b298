#!/usr/bin/env bash
# The hotspot detector beside the public-health reference methods, scored by the benchmark's own
# score.py in one table per data set:
#   - the benchmark's reference set (../shared/baselines/hotspots/reference): fengqiao, the Rust
#     replicas of farringtonFlexible (noufaily_rs) and EARS C2 (earsC2_rs), and R's own alarms
#     (farringtonFlexible, earsC_C2) from reference/alarms.csv;
#   - freshly simulated seeds (SEEDS, default "2 3", every cell with an outbreak: 500 outbreaks per
#     seed) with simulate.py; when R and surveillance are installed (install.sh), R's
#     farringtonFlexible runs on the same series in the same run and both are timed.
# Needs ../shared beside the project (SHARED overrides) and Python 3 (numpy is installed into
# .venv-baselines on first use). Prints JSON lines from score.py and the timings.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
B="$SHARED/baselines/hotspots"
if [ ! -f "$B/score.py" ]; then
  echo "hotspots_eval: needs the shared baselines at $B (not found); they are not part of a clone" >&2
  exit 2
fi
. benches/baselines_venv.sh
cargo build --release -q
FQ=target/release/fengqiao
OUT=${OUT:-target/hotspots-eval}
mkdir -p "$OUT"

run() { # name counts truth [R alarms...]
  local name=$1 counts=$2 truth=$3; shift 3
  echo "== $name"
  /usr/bin/time -f "fengqiao hotspots eval (3 methods): %e s wall, %U+%S s CPU" "$FQ" hotspots eval --counts "$counts" --out "$OUT/$name.csv" --method all
  # The nightly batch's configuration: cumulative windows of up to 14 days.
  /usr/bin/time -f "fengqiao hotspots eval --windows 14: %e s wall, %U+%S s CPU" "$FQ" hotspots eval --counts "$counts" --out "$OUT/$name-w14.csv" --windows 14
  "$VENV/bin/python" "$B/score.py" "$truth" "$@" "$OUT/$name.csv" "$OUT/$name-w14.csv"
}

run reference "$B/reference/counts.csv" "$B/reference/truth.csv" "$B/reference/alarms.csv"
for seed in ${SEEDS:-2 3}; do
  dir="$OUT/seed$seed"
  "$VENV/bin/python" "$B/simulate.py" "$dir" --seed "$seed" --outbreak-fraction 1.0 >/dev/null
  r_alarms=()
  if command -v Rscript >/dev/null && Rscript -e 'library(surveillance)' >/dev/null 2>&1; then
    /usr/bin/time -f "R farringtonFlexible + earsC: %e s wall, %U+%S s CPU" Rscript "$B/farrington.R" "$dir/counts.csv" "$dir/r_alarms.csv" --cores 2 >/dev/null
    r_alarms=("$dir/r_alarms.csv")
  else
    echo "(R with surveillance is not installed: $B/install.sh installs it; comparing with the Rust replicas only)"
  fi
  run "seed$seed" "$dir/counts.csv" "$dir/truth.csv" "${r_alarms[@]}"
done
