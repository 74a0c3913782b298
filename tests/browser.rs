//! The web desk in a real browser: headless Chromium driven over WebDriver (chromedriver) against
//! the real `fengqiao serve` binary. An operator signs in, pastes a complaint, triages it with
//! Ctrl+Enter, confirms it with Ctrl+Enter; a supervisor signs in, searches and finds it. Then the
//! server is stopped with SIGTERM and must shut down cleanly.
//!
//! Chromium and chromedriver come from Debian's packages; `tests/run` (the test command the README
//! gives, which `.ci/run` calls) installs them when they are missing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fengqiao(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fengqiao"));
    c.arg("--data-dir").arg(data).env_remove("FENGQIAO_DATABASE_URL").env("RUST_LOG", "warn");
    c
}

fn add_user(data: &Path, name: &str, role: &str) -> String {
    let out = fengqiao(data).args(["users", "add", "--name", name, "--role", role]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Driver {
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"]["error"].is_null(), "{path}: {v}");
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Waits until `script` returns something truthy and returns it.
    async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let start = Instant::now();
        loop {
            let v = self.script(script, args.clone()).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let body = self.script("return document.body ? document.body.innerText : ''", json!([])).await;
                panic!("timed out waiting for {what}; page text:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let v = self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }

    /// Presses Ctrl+Enter wherever the focus is, as a user would.
    async fn ctrl_enter(&self) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": "\u{E009}"}, {"type": "keyDown", "value": "\u{E007}"},
            {"type": "keyUp", "value": "\u{E007}"}, {"type": "keyUp", "value": "\u{E009}"}
        ]}]});
        self.cmd(reqwest::Method::POST, "/actions", Some(actions)).await;
    }

    async fn sign_in(&self, base: &str, token: &str, home: &str) {
        self.go(&format!("{base}/login")).await;
        self.wait_for("the login form", "return document.getElementById('token')", json!([])).await;
        self.type_into("#token", &format!("{token}\u{E007}")).await;
        self.wait_for(&format!("the {home} page"), "return location.pathname === arguments[0]", json!([home])).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_saves_a_complaint_in_the_browser_and_a_supervisor_finds_it() {
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "the browser test needs Debian's chromium and chromium-driver; run `tests/run` (it installs them) or `apt-get install -y chromium chromium-driver`"
    );
    let data = tempfile::tempdir().unwrap();
    let operator = add_user(data.path(), "接线员小王", "operator");
    let supervisor = add_user(data.path(), "督办老李", "supervisor");
    let mut server = fengqiao(data.path()).args(["serve", "--addr", "127.0.0.1:0"]).env("RUST_LOG", "info,tantivy=warn,sqlx=warn").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).map(|a| format!("http://{a}")).unwrap_or_else(|| panic!("no address in {line:?}"));
    let server_pid = server.id();
    // Drain the server's log as it comes, so a full pipe never blocks it.
    let stderr = server.stderr.take().unwrap();
    let log_reader = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let server = Killed(server);

    let port = free_port();
    let _driver = Killed(Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    let http = reqwest::Client::new();
    let wd = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while http.get(format!("{wd}/status")).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage", "--window-size=1280,900"]
    }}}});
    let session: Value = http.post(format!("{wd}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
    let session_id = session["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {session}")).to_string();
    let d = Driver { http, base: wd, session: session_id };

    // The operator: paste, Ctrl+Enter for the card, Ctrl+Enter to confirm and save.
    d.sign_in(&base, &operator, "/desk").await;
    let complaint = "来电人称：枫源村工地包工头拖欠二十多名工人三个月工资共十八万元，工人们说再不给就去镇政府门口拉横幅。";
    d.wait_for("the desk", "return document.getElementById('text')", json!([])).await;
    d.type_into("#text", complaint).await;
    d.type_into("#region", "浙江省/绍兴市/诸暨市/枫桥镇/枫源村").await;
    d.element("#text").await;
    d.script("document.getElementById('text').focus()", json!([])).await;
    d.ctrl_enter().await;
    let shown = d.wait_for("the triage card", "const c = document.getElementById('confirm'); return c && !c.hidden && document.getElementById('type-select').value", json!([])).await;
    assert_eq!(shown, "labor", "the card proposes the type");
    let card = d.script("return document.getElementById('card').innerText", json!([])).await;
    assert!(card.as_str().unwrap().contains("劳动争议"), "{card}");
    d.ctrl_enter().await;
    let id = d.wait_for("the saved case", "const s = document.getElementById('saved'); return s && s.getAttribute('data-case-id')", json!([])).await;
    let id = id.as_str().unwrap().to_string();
    assert!(id.parse::<i64>().is_ok(), "{id}");

    // The supervisor: search for it and find it (the index follows the store within a second).
    d.sign_in(&base, &supervisor, "/search").await;
    d.wait_for("the search box", "return document.getElementById('q')", json!([])).await;
    d.type_into("#q", "拖欠 工人\u{E007}").await;
    d.wait_for("the case among the hits", "return document.querySelector('#results li.hit[data-id=\"' + arguments[0] + '\"]')", json!([id])).await;
    let total = d.script("return document.getElementById('total').innerText", json!([])).await;
    assert!(total.as_str().unwrap().contains('1'), "{total}");
    d.cmd(reqwest::Method::DELETE, "", None).await;

    // SIGTERM: in-flight work finishes, the index is committed, exit 0.
    let status = Command::new("kill").args(["-TERM", &server_pid.to_string()]).status().unwrap();
    assert!(status.success());
    let mut server = server;
    let exit = server.0.wait().unwrap();
    let log: String = log_reader.join().unwrap();
    assert!(exit.success(), "serve exited with {exit}: {log}");
    assert!(log.contains("stopped"), "{log}");
    // Regression: serve's JSON logs were silenced by the binary's default subscriber.
    assert!(log.lines().any(|l| l.starts_with('{') && l.contains("hotspot batch scheduled")), "serve logs JSON at info level, with the nightly schedule: {log}");
    assert!(log.contains("x-request-id") || log.contains("request_id"), "requests are logged with their id: {log}");
}
