#!/usr/bin/env bash
# Case-history benchmark, side by side in one run: import throughput into SQLite and PostgreSQL
# (triage and indexing included), then search latency with filters and facets against SQLite
# FTS5 on the same cases, disk sizes and peak memory. Cases are generated from corpora/ and, when
# ../shared is present, the real messages of gov-messages-2020 (read at run time, never copied).
#   N=1000000 PG_N=100000 bash benches/history_bench.sh      (about 15 minutes at N=1,000,000)
# PG_URL (default postgres://postgres@127.0.0.1:5432/test) gets a fresh schema; PG_N=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
PG_N=${PG_N:-100000}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SHARED=${SHARED:-../shared}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
echo "working in $work" >&2
cargo build --release --quiet
cargo bench --bench search --no-run --quiet 2>/dev/null

python3 - "$N" "$work/cases.jsonl" "$SHARED" <<'PY'
import csv, glob, json, os, random, sys
n, out, shared = int(sys.argv[1]), sys.argv[2], sys.argv[3]
random.seed(7)
texts = [json.loads(l)["text"] for f in sorted(glob.glob("corpora/*/*.jsonl")) for l in open(f, encoding="utf-8")]
hot = f"{shared}/datasets/gov-messages-2020/hot_messages.csv"
if os.path.exists(hot):
    texts += [r["body"] for r in csv.DictReader(open(hot, encoding="utf-8"))]
else:
    print("note: ../shared not found; generating from corpora/ only", file=sys.stderr)
counties = {"诸暨市": 8, "上虞区": 6, "柯桥区": 6}
regions = [f"浙江省/绍兴市/{c}/{c[:2]}{t}镇/{c[:1]}{t}村{v}" for c, towns in counties.items() for t in range(1, towns + 1) for v in range(1, 13)]
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        row = {"id": f"g{i}", "text": random.choice(texts), "region": random.choice(regions),
               "time": f"{random.choice([2024, 2025, 2026])}-{random.randint(1, 11):02d}-{random.randint(1, 28):02d} {random.randint(0, 23):02d}:{random.randint(0, 59):02d}:00"}
        if random.random() < 0.3:
            row["phone"] = f"13{random.randint(0, 9)}{random.randint(0, 49999):08d}"
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
print(f"generated {n} cases from {len(texts)} distinct texts", file=sys.stderr)
PY

echo "== import into SQLite ($N cases) ==" >&2
/usr/bin/time -f "%e %M" -o "$work/time_sqlite" ./target/release/fengqiao --data-dir "$work/sqlite" import "$work/cases.jsonl" --batch 2000 > /dev/null 2> "$work/import_sqlite.err"
read -r sqlite_s sqlite_kb < "$work/time_sqlite"

pg_line=""
if [ "$PG_N" -gt 0 ]; then
  schema="fq_bench_$$"
  psql "$PG_URL" -q -c "CREATE SCHEMA $schema" >/dev/null
  head -n "$PG_N" "$work/cases.jsonl" > "$work/pg.jsonl"
  echo "== import into PostgreSQL ($PG_N cases) and, for the same rows, SQLite ==" >&2
  /usr/bin/time -f "%e %M" -o "$work/time_pg" ./target/release/fengqiao --data-dir "$work/pg" --database-url "$PG_URL?options=-c%20search_path%3D$schema" import "$work/pg.jsonl" --batch 2000 > /dev/null 2> "$work/import_pg.err"
  /usr/bin/time -f "%e %M" -o "$work/time_sqlite_small" ./target/release/fengqiao --data-dir "$work/sqlite_small" import "$work/pg.jsonl" --batch 2000 > /dev/null 2> "$work/import_sqlite_small.err"
  read -r pg_s pg_kb < "$work/time_pg"
  read -r small_s small_kb < "$work/time_sqlite_small"
  pg_db_bytes=$(psql "$PG_URL" -At -c "SELECT sum(pg_total_relation_size(quote_ident(schemaname)||'.'||quote_ident(tablename))) FROM pg_tables WHERE schemaname = '$schema'")
  psql "$PG_URL" -q -c "DROP SCHEMA $schema CASCADE" >/dev/null
  pg_line=$(printf '{"cases": %d, "postgres_s": %s, "postgres_cases_per_s": %.0f, "postgres_peak_kb": %s, "postgres_db_bytes": %s, "sqlite_s": %s, "sqlite_cases_per_s": %.0f, "ratio_sqlite_to_postgres": %.2f}' \
    "$PG_N" "$pg_s" "$(echo "$PG_N / $pg_s" | bc -l)" "$pg_kb" "$pg_db_bytes" "$small_s" "$(echo "$PG_N / $small_s" | bc -l)" "$(echo "$pg_s / $small_s" | bc -l)")
fi

echo "== search: fengqiao (tantivy) vs SQLite FTS5, same cases, same requests ==" >&2
search=$(cargo bench --bench search --quiet -- "$work/sqlite" 300)
printf '{"import_sqlite": {"cases": %d, "seconds": %s, "cases_per_s": %.0f, "peak_kb": %s}, "import_same_rows": %s, "search": %s, "loadavg": "%s"}\n' \
  "$N" "$sqlite_s" "$(echo "$N / $sqlite_s" | bc -l)" "$sqlite_kb" "${pg_line:-null}" "$search" "$(cut -d' ' -f1-3 /proc/loadavg)"
