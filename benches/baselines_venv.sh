# Sourced by the benchmark scripts: makes .venv-baselines with the baselines' pinned packages on
# first use (needs $SHARED) and sets VENV.
VENV=.venv-baselines
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$SHARED/baselines/requirements.txt"
fi
