//! `fengqiao hotspots eval` end to end: a counts file in, the benchmark's alarms format out, and
//! clear errors for bad tables.

use std::process::Command;

fn eval(counts: &str, extra: &[&str]) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("counts.csv");
    let out = dir.path().join("alarms.csv");
    std::fs::write(&input, counts).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fengqiao")).args(["hotspots", "eval", "--counts"]).arg(&input).arg("--out").arg(&out).args(extra).output().unwrap();
    let alarms = std::fs::read_to_string(&out).unwrap_or_default();
    (output, alarms)
}

/// Two cells over 900 days: a steady one, and one whose last day jumps; a third cell listed only
/// on the days it had cases (the rest are zeros).
fn table() -> String {
    let mut s = String::from("cell,day,count\n");
    let mut state = 7u64;
    for day in 0..900 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let noise = (state >> 60) as u32 % 3;
        s += &format!("steady,{day},{}\n", 4 + noise);
        let jump = if day == 899 { 30 } else { 0 };
        s += &format!("rising,{day},{}\n", 3 + noise + jump);
        if day % 50 == 0 {
            s += &format!("sparse,{day},1\n");
        }
    }
    s
}

#[test]
fn alarms_come_out_in_the_benchmark_format() {
    let (o, alarms) = eval(&table(), &["--last", "30", "--method", "all"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut lines = alarms.lines();
    assert_eq!(lines.next(), Some("cell,day,method,alarm,upperbound,observed"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Three cells × 30 days × three methods.
    assert_eq!(rows.len(), 3 * 30 * 3);
    let alarm = |cell: &str, day: &str, method: &str| rows.iter().find(|r| r[0] == cell && r[1] == day && r[2] == method).map(|r| r[3]).unwrap();
    assert_eq!(alarm("rising", "899", "fengqiao"), "1");
    assert_eq!(alarm("rising", "899", "noufaily_rs"), "1");
    let quiet = rows.iter().filter(|r| r[0] == "steady" && r[2] == "fengqiao" && r[3] == "1").count();
    assert!(quiet <= 2, "{quiet} alarms on a steady cell");
    // The sparse cell's missing days are zeros, and farringtonFlexible leaves it untested.
    assert!(rows.iter().filter(|r| r[0] == "sparse" && r[2] == "noufaily_rs").all(|r| r[4] == "NA" && r[3] == "0"));
    assert!(rows.iter().filter(|r| r[0] == "sparse").all(|r| r[5] == "0" || r[5] == "1"));
}

#[test]
fn bad_tables_are_refused_with_the_line() {
    for (table, expect) in [
        ("cell,day\nx,1\n", "no `count` column"),
        ("cell,day,count\nx,1,2\nx,1,3\n", ":3: cell `x` day 1 appears twice"),
        ("cell,day,count\nx,one,2\n", ":2: day `one`"),
        ("cell,day,count\nx,1,-2\n", ":2: count `-2`"),
        ("cell,day,count\n", "no counts"),
    ] {
        let (o, _) = eval(table, &[]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expect), "{table:?}: {err}");
    }
    let (o, _) = eval(&table(), &["--method", "magic"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not known"));
    let (o, _) = eval(&table(), &["--last", "5000"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside the table"));
}

/// The nightly run on a store: two months of steady complaints in two villages, then ten wage
/// complaints from different callers in one village on the last day.
#[test]
fn the_nightly_run_finds_a_village_burst_and_stores_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,time,region,type,phone,text\n");
    let mut id = 0;
    let texts = ["楼上邻居半夜跺脚，说了几次都不听", "邻居家狗天天叫，影响休息", "隔壁装修占用楼道堆放杂物"];
    for day in 0..60 {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Duration::days(day);
        for village in ["枫源村", "湄池村"] {
            for k in 0..2 {
                id += 1;
                csv += &format!("{id},{date} 10:0{k}:00,浙江省/绍兴市/诸暨市/枫桥镇/{village},neighbor,139{id:08},{}第{id}号\n", texts[(id as usize) % 3]);
            }
        }
    }
    let last = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Duration::days(59);
    for k in 0..10 {
        id += 1;
        csv += &format!("{id},{last} 15:{k:02}:00,浙江省/绍兴市/诸暨市/枫桥镇/枫源村,labor,137{k:08},砖厂老板拖欠我们三个月工资，第{k}位工人反映\n");
    }
    // One caller phoning twenty times over the last four days about the same dog: one matter.
    for k in 0..20 {
        id += 1;
        let day = last - chrono::Duration::days(3 - k / 6);
        csv += &format!("{id},{day} 2{}:{:02}:00,浙江省/绍兴市/诸暨市/枫桥镇/湄池村,neighbor,13512345678,隔壁王家的大狼狗天天半夜狂叫，孩子吓得睡不着{}\n", k % 3, k, "！".repeat((k % 4) as usize));
    }
    let file = dir.path().join("cases.csv");
    std::fs::write(&file, csv).unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_fengqiao")).arg("--data-dir").arg(&data).args(args).env_remove("FENGQIAO_DATABASE_URL").output().unwrap();
    let o = run(&["import", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = dir.path().join("alerts.json");
    let date = last.format("%Y-%m-%d").to_string();
    let o = run(&["hotspots", "run", "--date", &date, "--json", json.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let alerts = v["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(alerts[0]["region"], "浙江省/绍兴市/诸暨市/枫桥镇/枫源村", "{v:#}");
    assert_eq!(alerts[0]["type"], "labor");
    assert!(alerts.iter().all(|a| a["region"].as_str().unwrap().ends_with("枫源村")), "the township and county are explained by the village, and twenty calls by one caller are one matter: {v:#}");
    assert_eq!(alerts[0]["chart"].as_array().unwrap().len(), 56);
    assert_eq!(alerts[0]["chart"][55]["date"], date.as_str());
    // The wage complaints are a new topic; the caller who phoned twenty times is listed.
    let topics = v["topics"].as_array().unwrap();
    assert!(topics.iter().any(|t| t["terms"].as_array().unwrap().iter().any(|w| w["word"] == "拖欠")), "{v:#}");
    let callers = v["callers"].as_array().unwrap();
    assert_eq!(callers.len(), 1, "{v:#}");
    assert_eq!(callers[0]["caller"], "135****5678");
    assert_eq!(callers[0]["calls"][1], 20);
    assert_eq!(callers[0]["matters_30"], 1);
    assert!(v["repeats"].as_u64().unwrap() >= 19);
    // The report: a self-contained page with one chart per alert, and the JSON beside it.
    let html = std::fs::read_to_string(data.join("reports").join(format!("hotspots-{date}.html"))).unwrap();
    assert_eq!(html.matches("<svg").count(), alerts.len());
    assert!(html.contains("135****5678") && !html.contains("13512345678"), "phones are masked in the report");
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data.join("reports").join(format!("hotspots-{date}.json"))).unwrap()).unwrap();
    assert_eq!(stored["alerts"], v["alerts"]);
    // Re-running the night replaces its alerts instead of adding to them; a quiet day has none.
    let lines = String::from_utf8_lossy(&o.stdout).lines().count();
    let again = run(&["hotspots", "run", "--date", &date]);
    assert!(again.status.success());
    assert_eq!(String::from_utf8_lossy(&again.stdout).lines().count(), lines);
    let quiet = run(&["hotspots", "run", "--date", "2026-10-15"]);
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stdout).lines().count(), 0, "{}", String::from_utf8_lossy(&quiet.stdout));
    // An empty store is not an error.
    let empty = Command::new(env!("CARGO_BIN_EXE_fengqiao")).arg("--data-dir").arg(dir.path().join("empty")).args(["hotspots", "run", "--date", &date]).env_remove("FENGQIAO_DATABASE_URL").output().unwrap();
    assert!(empty.status.success(), "{}", String::from_utf8_lossy(&empty.stderr));
    // A bad date is a clear error with a non-zero exit code.
    let bad = run(&["hotspots", "run", "--date", "2026-13-01"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("YYYY-MM-DD"));
}
