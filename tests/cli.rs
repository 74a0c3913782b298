//! End-to-end tests that drive the real `fengqiao` binary with the shipped model and config.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fengqiao"));
    // Run from a directory without config/ or models/ so the binary must find the shipped ones.
    c.current_dir(std::env::temp_dir());
    c.env_remove("FENGQIAO_CONFIG").env_remove("FENGQIAO_MODELS");
    c
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = bin();
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("binary starts");
    // Write stdin from another thread: a large batch fills the stdout pipe before all input
    // is written, and both sides would wait for each other.
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn triage_json(text: &str) -> serde_json::Value {
    let o = run(&["triage", "--json", text], None);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn card_shows_type_risk_reasons_and_mediator() {
    let o = run(
        &["triage", "--region", "浙江省/绍兴市/诸暨市/枫桥镇/枫源村", "包工头拖欠我们二十多个工人三个月工资，快过年了，大家商量明天去镇政府拉横幅"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let card = stdout(&o);
    for expect in ["劳动争议", "橙色", "拉横幅", "推荐调解员", "county"] {
        assert!(card.contains(expect), "card lacks {expect}:\n{card}");
    }
}

#[test]
fn traditional_and_simplified_text_get_the_same_result() {
    let s = triage_json("楼上邻居天天半夜剁肉，吵得睡不着，说了好几次都不听");
    let t = triage_json("樓上鄰居天天半夜剁肉，吵得睡不著，說了好幾次都不聽");
    assert_eq!(s["type"]["label"], "neighbor");
    assert_eq!(s["type"]["label"], t["type"]["label"]);
    assert_eq!(s["risk"]["level"], t["risk"]["level"]);
}

#[test]
fn explicit_threat_with_means_is_red_and_says_why() {
    let v = triage_json("他说今晚带着汽油去包工头家，要跟他同归于尽");
    assert_eq!(v["risk"]["level"], "red");
    let reasons = v["risk"]["reasons"].to_string();
    assert!(reasons.contains("汽油"), "{reasons}");
    assert_eq!(v["routing"]["tier"], "emergency");
}

#[test]
fn json_masks_phone_numbers_and_reads_stdin() {
    let o = run(&["triage", "--json"], Some("我家被人占了宅基地，电话13812345678".as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["masked_text"], "我家被人占了宅基地，电话138****5678");
    assert_eq!(v["personal_data"][0]["kind"], "mobile");
}

#[test]
fn bad_texts_get_clear_errors_not_panics() {
    let long = "吵".repeat(20_001);
    let cases: [(&[u8], &str); 6] = [
        (b"", "empty"),
        (b"   \n\t  ", "empty"),
        ("\u{0007}\u{0000}".as_bytes(), "empty"),
        (b"my upstairs neighbour is noisy", "no Chinese"),
        ("😡😡😡".as_bytes(), "no Chinese"),
        (long.as_bytes(), "limit of 20000"),
    ];
    for (input, expect) in cases {
        let o = run(&["triage"], Some(input));
        assert_eq!(o.status.code(), Some(1), "input {:?}", String::from_utf8_lossy(&input[..input.len().min(20)]));
        let err = stderr(&o);
        assert!(err.contains(expect) && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn emoji_and_control_characters_inside_a_complaint_are_fine() {
    let v = triage_json("楼上漏水😡😡\u{0007}泡坏了我家天花板");
    assert_eq!(v["type"]["label"], "neighbor");
}

#[test]
fn invalid_utf8_on_stdin_is_refused_with_a_hint() {
    // "楼上漏水" in GB18030.
    let gb: &[u8] = &[0xC2, 0xA5, 0xC9, 0xCF, 0xC2, 0xA9, 0xCB, 0xAE];
    let o = run(&["triage"], Some(gb));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("not valid UTF-8") && err.contains("iconv"), "{err}");
}

#[test]
fn malformed_region_and_phone_are_reported() {
    let o = run(&["triage", "--region", "浙江省//枫桥镇", "楼上漏水"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty segment"), "{}", stderr(&o));
    let o = run(&["triage", "--phone", "call me maybe", "楼上漏水"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a phone number"), "{}", stderr(&o));
}

#[test]
fn jsonl_batch_reports_bad_lines_by_number_and_processes_the_rest() {
    let input = concat!(
        "{\"text\": \"楼上漏水，泡坏了我家天花板\", \"region\": \"浙江省/绍兴市/诸暨市/枫桥镇/枫源村\"}\n",
        "{not json\n",
        "{\"text\": \"\"}\n",
        "\n",
        "{\"text\": \"老板拖欠工资三个月\", \"phone\": \"13812345678\"}\n",
        "{\"text\": \"x\", \"colour\": \"red\"}\n",
    );
    let mut bytes = input.as_bytes().to_vec();
    bytes.extend_from_slice(b"{\"text\": \"\xff\xfe\"}\n");
    let o = run(&["triage", "--jsonl", "-"], Some(&bytes));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "one output per non-blank input line");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["type"]["label"], "neighbor");
    assert!(lines[1]["error"].as_str().unwrap().starts_with("line 2:"));
    assert!(lines[2]["error"].as_str().unwrap().contains("empty"));
    assert_eq!(lines[3]["line"], 5);
    assert_eq!(lines[3]["type"]["label"], "labor");
    assert!(lines[4]["error"].as_str().unwrap().contains("colour"), "unknown fields are refused: {}", lines[4]);
    assert!(lines[5]["error"].as_str().unwrap().contains("UTF-8"));
    assert!(stderr(&o).contains("2 triaged, 4 rejected"), "{}", stderr(&o));
}

fn write_corpus(dir: &Path, labels: &[(&str, &[&str])]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::fs::File::create(dir.join("mine.jsonl")).unwrap();
    let risks = ["blue", "yellow", "orange", "red"];
    for (label, texts) in labels {
        for (i, t) in texts.iter().enumerate() {
            for k in 0..6 {
                let line = serde_json::json!({"text": format!("{t}，第{k}号记录"), "type": label, "risk": risks[(i + k) % 4]});
                writeln!(f, "{line}").unwrap();
            }
        }
    }
}

#[test]
fn users_can_train_on_their_own_labels_and_triage_with_the_result() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(
        &corpus,
        &[
            ("water_supply", &["小区停水三天了没人管", "自来水管爆了一直漏水", "水压太低楼上没水用", "水费收得不明不白"]),
            ("street_light", &["路灯坏了晚上很黑", "小区门口路灯不亮", "村道没有路灯容易摔倒", "路灯白天也开着浪费电"]),
        ],
    );
    let out: PathBuf = tmp.path().join("models");
    let o = run(&["train", "--corpus", corpus.to_str().unwrap(), "--out", out.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["labels"]["type"], serde_json::json!(["street_light", "water_supply"]));
    assert_eq!(meta["corpus"]["sha256"].as_str().unwrap().len(), 64);
    let o = run(&["--models", out.to_str().unwrap(), "triage", "--json", "我们这里停水了"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["type"]["label"], "water_supply");
}

#[test]
fn training_rejects_unknown_risk_labels_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bad.jsonl"), "{\"text\":\"楼上漏水\",\"type\":\"neighbor\",\"risk\":\"purple\"}\n").unwrap();
    let o = run(&["train", "--corpus", tmp.path().to_str().unwrap(), "--out", tmp.path().join("m").to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.jsonl:1") && err.contains("purple"), "{err}");
}

#[test]
fn eval_prints_the_documented_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d.jsonl");
    std::fs::write(
        &data,
        concat!(
            "{\"text\":\"包工头拖欠农民工工资半年\",\"type\":\"labor\",\"risk\":\"yellow\"}\n",
            "{\"text\":\"他说今晚拿刀去砍死邻居\",\"type\":\"neighbor\",\"risk\":\"red\"}\n",
            "{\"text\":\"物业费涨价没有开业主大会\",\"type\":\"property_mgmt\",\"risk\":\"blue\"}\n",
        ),
    )
    .unwrap();
    let o = run(&["eval", "--data", data.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["n"], 3);
    for key in ["accuracy", "macro_f1", "per_class", "confusion"] {
        assert!(v["type"].get(key).is_some() && v["risk"].get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["risk"]["recall_red"], 1.0);
    assert!(v["risk"].get("recall_orange_or_red").is_some());
}

#[test]
fn eval_train_test_works_on_csv_tokens_for_any_label() {
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("train.csv");
    let test = tmp.path().join("test.csv");
    let mut rows = String::from("row,tokens,label\n");
    for i in 0..40 {
        let (tokens, label) = if i % 2 == 0 { ("公交 线路 调整 站点", "交通") } else { ("学校 招生 学位 入学", "教育") };
        rows.push_str(&format!("{i},{tokens} 第{i},{label}\n"));
    }
    std::fs::write(&train, &rows).unwrap();
    std::fs::write(&test, "row,tokens,label\n1,公交 站点 太远,交通\n2,入学 学位 紧张,教育\n3,\"垃圾 清运\",环保\n").unwrap();
    let o = run(&["eval", "--train", train.to_str().unwrap(), "--test", test.to_str().unwrap(), "--label", "label"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["label"]["per_class"]["交通"]["recall"], 1.0);
    assert_eq!(v["label"]["per_class"]["环保"]["recall"], 0.0, "a label never trained on counts as a miss");
}

#[test]
fn eval_reports_malformed_csv_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bad.csv");
    std::fs::write(&f, "row,tokens,label\n1,a b,x\n2,c\n").unwrap();
    let o = run(&["eval", "--train", f.to_str().unwrap(), "--test", f.to_str().unwrap(), "--label", "label"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.csv:3"), "{}", stderr(&o));
}

#[test]
fn parallel_batch_gives_the_same_results_and_rotation_as_one_thread() {
    let texts = ["楼上漏水泡坏了天花板", "老板拖欠三个月工资不给", "物业费涨价没开业主大会", "邻居家的狗半夜一直叫", "宅基地边界被邻居占了半米"];
    let input: String = (0..1200)
        .map(|i| serde_json::json!({"text": format!("{}，第{i}次来电", texts[i % texts.len()]), "region": "浙江省/绍兴市/诸暨市/枫桥镇/枫源村"}).to_string() + "\n")
        .collect();
    let one = run(&["triage", "--jsonl", "-", "--threads", "1"], Some(input.as_bytes()));
    let two = run(&["triage", "--jsonl", "-", "--threads", "2"], Some(input.as_bytes()));
    assert!(one.status.success() && two.status.success(), "{}", stderr(&two));
    assert_eq!(stdout(&one), stdout(&two));
    let mediators: std::collections::BTreeSet<String> =
        stdout(&one).lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["routing"]["mediator"]["id"].to_string()).collect();
    assert!(mediators.len() >= 2, "load spreads over more than one mediator: {mediators:?}");
}

/// `mediators evaluate` and `mediators subsidies` on a store with no outcomes yet: every
/// mediator is listed with nothing to rate, the subsidy files are written with a zero total; a
/// bad period is refused with the forms it takes.
#[test]
fn mediator_evaluation_and_subsidies_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let o = run(&["--data-dir", data, "mediators", "evaluate", "--period", "2026Q3", "--json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["from"], "2026-07-01");
    assert_eq!(v["to"], "2026-10-01");
    let mediators = v["mediators"].as_array().unwrap();
    assert!(!mediators.is_empty(), "the example roster is evaluated");
    assert!(mediators.iter().all(|m| m["suggestion"]["suggested"] == m["suggestion"]["current"]), "no cases, no change");
    assert!(stderr(&o).contains("no mediator handled a case"), "{}", stderr(&o));
    let table = run(&["--data-dir", data, "mediators", "evaluate", "--period", "2026-08"], None);
    assert!(table.status.success());
    assert!(stdout(&table).contains("v-fengyuan-1"));
    let csv = dir.path().join("subsidies.csv");
    let html = dir.path().join("subsidies.html");
    let o = run(&["--data-dir", data, "mediators", "subsidies", "--period", "2026", "--csv", csv.to_str().unwrap(), "--html", html.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&csv).unwrap().starts_with("\u{feff}期间"));
    assert!(std::fs::read_to_string(&html).unwrap().contains("合计 0.00 元"));
    let bad = run(&["--data-dir", data, "mediators", "evaluate", "--period", "2026Q9"], None);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("2026Q3"), "{}", stderr(&bad));
}
