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
