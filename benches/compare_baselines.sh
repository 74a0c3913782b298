#!/usr/bin/env bash
# Runs fengqiao and the reference Python baselines (../shared/baselines) side by side, in one run,
# on the same data, and prints both figures with their ratio:
#   1. quality on the real gov-messages-2020 split (test = row % 5 == 0): our `eval --train/--test`
#      against scikit-learn's LinearSVC and LogisticRegression (classify_baseline.py --no-tune);
#   2. single-threaded triage throughput and latency on the same texts: our full triage
#      (normalize → route, benches/latency.rs) against jieba → TF-IDF → LogisticRegression
#      (triage_pipeline_baseline.py --C 30).
# Needs ../shared beside the project (set SHARED to override) and Python 3 with pip; installs the
# baseline's pinned packages into .venv-baselines on first use. Takes about 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
DATA="$SHARED/datasets/gov-messages-2020"
if [ ! -f "$DATA/messages_labelled_full_tokenized.csv" ] || [ ! -d "$SHARED/baselines" ]; then
  echo "compare_baselines: needs the shared datasets and baselines at $SHARED (not found); they are not part of a clone" >&2
  exit 2
fi
. benches/baselines_venv.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The same inputs for both sides, made at run time from the shared data (never copied into the repo).
"$VENV/bin/python" - "$DATA" "$out" <<'PY'
import csv, json, sys
data, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{data}/messages_labelled_full_tokenized.csv", encoding="utf-8")))
train = [r for r in rows if int(r["row"]) % 5 != 0]
test = [r for r in rows if int(r["row"]) % 5 == 0]
for name, part in (("train", train), ("test", test)):
    with open(f"{out}/{name}.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["row", "tokens", "label"]); w.writeheader(); w.writerows(part)
with open(f"{out}/test_text.jsonl", "w", encoding="utf-8") as f:
    for r in test:  # rebuilt exactly as the Python triage baseline rebuilds it
        f.write(json.dumps({"text": "".join(r["tokens"].split())}, ensure_ascii=False) + "\n")
with open(f"{out}/hot.jsonl", "w", encoding="utf-8") as f:
    for r in csv.DictReader(open(f"{data}/hot_messages.csv", encoding="utf-8")):
        f.write(json.dumps({"text": r["body"]}, ensure_ascii=False) + "\n")
PY

cargo build --release --quiet
cargo bench --bench latency --no-run --quiet 2>/dev/null
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo "== quality: real messages, 7 labels, test n=1842 ==" >&2
ours_q=$(./target/release/fengqiao eval --train "$out/train.csv" --test "$out/test.csv" --label label)
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$VENV/bin/python" "$SHARED/baselines/classify_baseline.py" --no-tune --models linearsvc,logreg > "$out/py_classify.jsonl"

echo "== throughput: one document at a time, one thread ==" >&2
cargo bench --bench latency --quiet -- "$out/test_text.jsonl" > "$out/rs_test.json"
cargo bench --bench latency --quiet -- "$out/hot.jsonl" > "$out/rs_hot.json"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$VENV/bin/python" "$SHARED/baselines/triage_pipeline_baseline.py" --C 30 > "$out/py_triage.jsonl"

echo "== batch triage through the CLI (fengqiao triage --jsonl), raw messages x3 ==" >&2
cat "$out/hot.jsonl" "$out/hot.jsonl" "$out/hot.jsonl" > "$out/hot3.jsonl"
for threads in 1 2; do
  "$VENV/bin/python" - "$out/hot3.jsonl" "$threads" > "$out/batch_$threads.json" <<'PY'
import json, subprocess, sys, time
path, threads = sys.argv[1], sys.argv[2]
docs = sum(1 for _ in open(path, encoding="utf-8"))
start = time.perf_counter()
with open(path, "rb") as f:
    done = subprocess.run(["./target/release/fengqiao", "triage", "--jsonl", "-", "--threads", threads], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - start
lines = done.stdout.count(b"\n")
assert done.returncode == 0 and lines == docs, (done.returncode, lines, docs)
print(json.dumps({"threads": int(threads), "docs": docs, "wall_s": round(wall, 3), "docs_per_s": round(docs / wall, 1)}))
PY
done

"$VENV/bin/python" - "$out" "$ours_q" <<'PY'
import json, sys
out, ours_q = sys.argv[1], json.loads(sys.argv[2])
py = [json.loads(l) for l in open(f"{out}/py_classify.jsonl")]
models = {r["model"]: r for r in py if r.get("record") == "model"}
q = ours_q["label"]
print("quality on the real split (test n=%d)" % ours_q["n"])
print("  %-34s accuracy %.4f  macro-F1 %.4f" % ("fengqiao (sparse SVM, words+chars)", q["accuracy"], q["macro_f1"]))
for name in ("linearsvc", "logreg"):
    m = models.get(name)
    if m:
        print("  %-34s accuracy %.4f  macro-F1 %.4f  (ratio of macro-F1: %.3f)" % ("scikit-learn " + name, m["accuracy"], m["macro_f1"], q["macro_f1"] / m["macro_f1"]))
tri = [json.loads(l) for l in open(f"{out}/py_triage.jsonl")]
pipes = [r for r in tri if r.get("record") == "pipeline"]
print("single-thread triage, one document at a time")
for label, rs_file, py_rec in (("test split (text rebuilt from tokens)", "rs_test.json", pipes[0]), ("real raw messages (hot_messages body)", "rs_hot.json", pipes[1])):
    rs = json.load(open(f"{out}/{rs_file}"))
    print("  %s, %d docs, mean %.0f chars" % (label, rs["docs"], rs["mean_chars"]))
    print("    fengqiao full triage   %8.0f docs/s  p50 %7.1f us  p99 %8.1f us" % (rs["docs_per_s"], rs["p50_us"], rs["p99_us"]))
    print("    Python jieba+sklearn   %8.0f docs/s  p50 %7.1f us  p99 %8.1f us" % (py_rec["docs_per_s"], py_rec["p50_us"], py_rec["p99_us"]))
    print("    ratio (docs/s)         %8.1fx" % (rs["docs_per_s"] / py_rec["docs_per_s"]))
py_hot = pipes[1]["docs_per_s"]
print("batch triage through the CLI, JSON in and out, start-up included (raw messages x3)")
for threads in (1, 2):
    b = json.load(open(f"{out}/batch_{threads}.json"))
    print("  fengqiao triage --jsonl --threads %d  %8.0f docs/s (%d docs in %.2f s)  ratio to Python single-thread %.1fx" % (threads, b["docs_per_s"], b["docs"], b["wall_s"], b["docs_per_s"] / py_hot))
print("load average at end: " + open("/proc/loadavg").read().split()[0])
PY
