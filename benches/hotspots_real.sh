#!/usr/bin/env bash
# The nightly batch on real messages: ../shared/datasets/gov-messages-2020/hot_messages.csv
# (4,326 citizen messages to city A's government, almost all from 2019) imported into a fresh
# embedded store, then `fengqiao hotspots run` for every day from FROM to TO, and a summary of
# what was flagged and why.
#
# The file has no region or phone column. Region: the first district or county code named in the
# title or body (A1区 … A9市) under A市, else A市 when the city is named, else none (not counted
# in cells). Caller: the anonymised user code as a number (A000102948 → "8000102948", A909221 →
# "8000909221"), so one person's repeated messages count as one caller; a key, not a phone number. Types are our classifier's.
# Needs ../shared beside the project (SHARED overrides); nothing is copied into the project.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
SRC="$SHARED/datasets/gov-messages-2020/hot_messages.csv"
if [ ! -f "$SRC" ]; then
  echo "hotspots_real: needs $SRC (not found); the shared datasets are not part of a clone" >&2
  exit 2
fi
FROM=${FROM:-2019-03-01}
TO=${TO:-2019-12-31}
cargo build --release -q
FQ=target/release/fengqiao
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$SRC" "$WORK/messages.csv" <<'PY'
import csv, re, sys
src, out = sys.argv[1], sys.argv[2]
district = re.compile(r"A\d+[区县市]")
counts = {"district": 0, "city": 0, "none": 0}
with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8", newline="") as g:
    w = csv.writer(g)
    w.writerow(["id", "time", "title", "body", "region", "phone"])
    for r in csv.DictReader(f):
        text = r["title"] + r["body"]
        m = district.search(text)
        if m:
            region, kind = "A市/" + m.group(0), "district"
        elif "A市" in text:
            region, kind = "A市", "city"
        else:
            region, kind = "", "none"
        counts[kind] += 1
        w.writerow([r["id"], r["time"], r["title"], r["body"], region, "8" + r["user"].lstrip("A").zfill(9)])
print(f"regions: {counts['district']} by district or county, {counts['city']} city only, {counts['none']} none", file=sys.stderr)
PY
"$FQ" --data-dir "$WORK/data" import "$WORK/messages.csv" 2>&1 >/dev/null | tail -1
mkdir -p "$WORK/nights"
day="$FROM"
started=$(date +%s.%N)
nights=0
while [[ "$day" < "$TO" || "$day" == "$TO" ]]; do
  "$FQ" --data-dir "$WORK/data" hotspots run --date "$day" --json "$WORK/nights/$day.json" --report-dir "$WORK/reports" >/dev/null 2>>"$WORK/log"
  nights=$((nights + 1))
  day=$(date -d "$day + 1 day" +%F)
done
echo "$nights nights in $(echo "$(date +%s.%N) - $started" | bc) s (each a separate process reading the whole store)"
python3 - "$WORK/nights" <<'PY'
import json, os, sys, collections
d = sys.argv[1]
nights = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))]
alerts = [(n["day"], a) for n in nights for a in n["alerts"]]
topics = [(n["day"], t) for n in nights for t in n["topics"]]
callers = {c["caller"] for n in nights for c in n["callers"]}
print(f"{len(nights)} nights: {len(alerts)} alerts on {len({d for d, _ in alerts})} days, {len(topics)} topic-nights, {len(callers)} distinct repeat callers listed")
per_level = collections.Counter(a["region"].count("/") + 1 for _, a in alerts)
print("alerts by region level (1 = A市, 2 = district):", dict(sorted(per_level.items())))
print("alerts by type:", collections.Counter(a["type"] or "*" for _, a in alerts).most_common())
print("\nalerts:")
for day, a in alerts:
    print(f"  {day}  {a['region']}  {a['type'] or '*'}  {a['reason']}")
print("\ntopics (first night each label appears):")
seen = set()
for day, t in topics:
    key = tuple(t["label"])
    if key in seen:
        continue
    seen.add(key)
    ex = t["examples"][0]["excerpt"][:40] if t["examples"] else ""
    print(f"  {day}  {' · '.join(t['label'])}: {t['callers']} callers, {t['cases']} cases; e.g. {ex}")
PY
