//! Case history through the real binary: import (CSV, JSONL, GB18030, bad rows, re-runs, a
//! process killed mid-import), search and reindex, on SQLite and PostgreSQL.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn fengqiao(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fengqiao"));
    c.arg("--data-dir").arg(data).args(args).env_remove("FENGQIAO_DATABASE_URL").env_remove("FENGQIAO_DATA_DIR");
    c
}

fn run(data: &Path, args: &[&str]) -> Output {
    fengqiao(data, args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn search_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    let o = run(data, &all);
    assert!(o.status.success(), "{}", text(&o).1);
    serde_json::from_slice(&o.stdout).unwrap()
}

const CSV: &str = "id,title,time,body,region,risk\n\
1,楼上漏水,2026-10-01 09:00:00,楼上卫生间漏水泡坏了我家天花板，找了物业也不管,浙江省/绍兴市/诸暨市/枫桥镇/枫源村,\n\
2,欠薪,2026-10-02 10:00:00,\"包工头拖欠我们二十多个工人三个月工资，快过年了\",浙江省/绍兴市/诸暨市/东溪镇/上湾村,orange\n\
3,坏行,2026-10-03\n\
4,时间,昨天下午,邻居家的狗半夜叫,浙江省/绍兴市/诸暨市/枫桥镇/新枫村,\n\
5,空,2026-10-05 10:00:00,,浙江省,\n\
6,紫色,2026-10-06 10:00:00,宅基地被占,浙江省,purple\n\
7,樓上,2026-10-07 10:00:00,樓上鄰居半夜唱K，吵得孩子睡不著,浙江省/绍兴市/诸暨市/枫桥镇/枫源村,\n";

#[test]
fn csv_import_reports_bad_rows_by_line_keeps_going_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.csv");
    std::fs::write(&file, CSV).unwrap();
    let data = dir.path().join("data");
    let o = run(&data, &["import", file.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "some rows were rejected\n{err}");
    for expect in ["cases.csv:4: rejected: 3 fields", "cases.csv:5: rejected: time `昨天下午`", "cases.csv:6: rejected: no `text`", "cases.csv:7: rejected: unknown risk level `purple`"] {
        assert!(err.contains(expect), "missing {expect:?} in\n{err}");
    }
    assert!(out.contains("total new 3"), "{out}");
    assert!(err.contains("imported 3 new cases, 0 already present, 4 rejected; 3 cases in the store"), "{err}");

    let again = run(&data, &["import", file.to_str().unwrap()]);
    assert!(text(&again).1.contains("imported 0 new cases, 3 already present"), "{}", text(&again).1);

    let v = search_json(&data, &["楼上"]);
    assert_eq!(v["total"], 2, "simplified query finds traditional text and simplified text: {v}");
    let v = search_json(&data, &["欠薪", "--risk", "orange"]);
    assert_eq!(v["total"], 1, "the file's own risk label is the confirmed risk: {v}");
    let hit = &v["hits"][0];
    for key in ["id", "received", "region", "type", "risk", "status", "snippet"] {
        assert!(hit.get(key).is_some(), "hit lacks {key}: {hit}");
    }
    let v = search_json(&data, &["", "--region", "浙江省/绍兴市/诸暨市/枫桥镇"]);
    assert_eq!(v["total"], 2, "region subtree: {v}");
    assert!(v["facets"]["type"].is_object() && v["facets"]["risk"].is_object());
}

#[test]
fn gb18030_files_are_converted_and_binary_files_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gbk.csv");
    let (bytes, _, _) = encoding_rs::GB18030.encode("id,text\n1,村里修路占了我家承包地，没有任何补偿\n");
    std::fs::write(&file, &bytes).unwrap();
    let data = dir.path().join("data");
    let o = run(&data, &["import", file.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("GB18030; converted to UTF-8"), "{err}");
    assert_eq!(search_json(&data, &["承包地"])["total"], 1);
    let bin = dir.path().join("x.csv");
    std::fs::write(&bin, [0u8, 159, 146, 150, 0, 255]).unwrap();
    let o = run(&data, &["import", bin.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("neither UTF-8 nor GB18030"), "{}", text(&o).1);
}

#[test]
fn search_refuses_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (args, expect) in [
        (vec!["search", "x", "--risk", "purple"], "purple"),
        (vec!["search", "x", "--from", "last week"], "not a date"),
        (vec!["search", "x", "--sort", "size"], "relevance, time, risk"),
        (vec!["search", "x", "--region", "a//b"], "empty segment"),
    ] {
        let o = run(&data, &args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(text(&o).1.contains(expect), "{args:?}: {}", text(&o).1);
    }
    let long = "欠".repeat(600);
    let o = run(&data, &["search", &long]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("limit is 500"));
    let o = run(&data, &["search", "\"(欠薪 AND"]);
    assert!(o.status.success(), "syntax characters are read as words: {}", text(&o).1);
}

fn synthetic_jsonl(path: &Path, n: usize) {
    let texts = ["楼上漏水泡坏了天花板", "老板拖欠三个月工资不给", "物业费涨价没开业主大会", "邻居家的狗半夜一直叫", "宅基地边界被邻居占了半米"];
    let mut f = std::fs::File::create(path).unwrap();
    for i in 0..n {
        let row = serde_json::json!({"id": format!("k{i}"), "text": format!("{}，编号{i}", texts[i % texts.len()]), "time": "2026-10-01 08:00:00"});
        writeln!(f, "{row}").unwrap();
    }
}

fn store_count(data: &Path) -> i64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { fengqiao::store::CaseStore::open_dir(data).await.unwrap().count().await.unwrap() })
}

#[test]
fn a_process_killed_mid_import_loses_no_acknowledged_case_and_the_index_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let rows = 3000;
    synthetic_jsonl(&file, rows);
    let data = dir.path().join("data");
    for round in 0..3 {
        let mut child = fengqiao(&data, &["import", file.to_str().unwrap(), "--batch", "100"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut acknowledged = None;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait for a few acknowledged batches, then kill without warning.
        for _ in 0..(3 + round * 4) {
            let Some(Ok(line)) = lines.next() else { break };
            acknowledged = Some(line);
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let line = acknowledged.expect("the import acknowledged some batches before the kill");
        let total_new: i64 = line.split("total new ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
        let present: i64 = line.split("already present ").nth(1).unwrap().trim_end_matches(')').parse().unwrap();
        let stored = store_count(&data);
        assert!(stored >= total_new + present.min(stored), "round {round}: acknowledged {line:?} but the store holds {stored}");
        // The index catches up on the next start and agrees with the store.
        assert_eq!(search_json(&data, &["", "--limit", "1"])["total"], stored, "round {round}");
    }
    let o = run(&data, &["import", file.to_str().unwrap(), "--batch", "500"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(store_count(&data), rows as i64);
    assert_eq!(search_json(&data, &["", "--limit", "1"])["total"], rows as i64);
    let o = run(&data, &["reindex"]);
    assert!(text(&o).1.contains(&format!("reindexed {rows} cases")), "{}", text(&o).1);
    assert_eq!(search_json(&data, &["编号2999"])["total"], 1);
}

#[test]
fn postgres_store_imports_and_searches_the_same_way() {
    let base = std::env::var("FENGQIAO_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base == "off" {
        eprintln!("FENGQIAO_TEST_POSTGRES=off: skipping");
        return;
    }
    let schema = format!("fq_hist_{}_{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPool::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base} is required ({e})"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&pool).await.unwrap();
    });
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.csv");
    std::fs::write(&file, CSV).unwrap();
    let data = dir.path().join("data");
    let o = run(&data, &["--database-url", &url, "import", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o).1);
    assert!(text(&o).1.contains("imported 3 new cases"), "{}", text(&o).1);
    assert!(!data.join("fengqiao.sqlite").exists(), "PostgreSQL, not the embedded file, holds the cases");
    let o = run(&data, &["--database-url", &url, "search", "--json", "樓上"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"], 2, "{v}");
}

#[test]
fn triage_shows_related_cases_and_repeated_calls_raise_risk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let day = |d: i64| (chrono::Utc::now() - chrono::Duration::days(d)).format("%Y-%m-%d %H:%M:%S").to_string();
    let file = dir.path().join("calls.jsonl");
    let rows = [
        serde_json::json!({"id": "a", "text": "楼上邻居天天半夜剁肉，吵得睡不着", "phone": "138 1234 5678", "time": day(20), "address": "枫源村3组12号", "region": "浙江省/绍兴市/诸暨市/枫桥镇/枫源村"}),
        serde_json::json!({"id": "b", "text": "又是楼上剁肉，半夜两点", "phone": "13812345678", "time": day(5), "region": "浙江省/绍兴市/诸暨市/枫桥镇/枫源村"}),
        serde_json::json!({"id": "c", "text": "很久以前的来电", "phone": "13812345678", "time": day(200)}),
    ];
    std::fs::write(&file, rows.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
    assert!(run(&data, &["import", file.to_str().unwrap()]).status.success());

    let o = run(&data, &["triage", "--json", "--phone", "13812345678", "--address", "枫源村3组12号", "--region", "浙江省/绍兴市/诸暨市/枫桥镇/枫源村", "楼上邻居天天半夜剁肉，吵得我睡不着觉"]);
    assert!(o.status.success(), "{}", text(&o).1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let relations: Vec<&str> = v["related"].as_array().unwrap().iter().map(|r| r["relation"].as_str().unwrap()).collect();
    assert_eq!(relations.iter().filter(|r| **r == "same_phone").count(), 2, "the 200-day-old call is outside 90 days: {relations:?}");
    assert!(relations.contains(&"same_address") && relations.contains(&"similar_text"), "{relations:?}");
    let reasons = v["risk"]["reasons"].to_string();
    assert!(reasons.contains("第3次来电") && reasons.contains("\"history\""), "{reasons}");
    assert_ne!(v["risk"]["level"], "blue", "repeated contact raises a calm complaint");

    let fresh = dir.path().join("empty");
    let o = run(&fresh, &["triage", "--json", "--phone", "13812345678", "楼上邻居天天半夜剁肉"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["related"], serde_json::json!([]), "no store, no history");
    assert!(!fresh.exists(), "triage without a store creates none");
}

#[test]
fn the_roster_is_imported_into_the_store_and_bad_rosters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = run(&data, &["mediators", "import"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o).1.contains("stored 20 mediators"), "{}", text(&o).1);
    let o = run(&data, &["mediators", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 20);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[mediator]]\nid = \"x\"\nname = \"x\"\nstars = 9\ntier = \"village\"\nregion = \"浙江省\"\ncapacity = 1\n").unwrap();
    let o = run(&data, &["mediators", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("9 stars"), "{}", text(&o).1);
    let o = run(&data, &["mediators", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 20, "a refused roster changes nothing");
}
