//! The HTTP API through the real router (no socket), on a real store and index in a temporary
//! directory: roles and regions, masking and audit, the case lifecycle, bad input, SLA, the
//! OpenAPI document against the router.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fengqiao::http::{AppState, Metrics, router};
use fengqiao::service::{NewUser, Service, add_user};
use fengqiao::store::{CaseStore, User};
use fengqiao::{access::Role, config, search::SearchIndex};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const FENGYUAN: &str = "浙江省/绍兴市/诸暨市/枫桥镇/枫源村";
const FENGQIAO_TOWN: &str = "浙江省/绍兴市/诸暨市/枫桥镇";
const DIANKOU_VILLAGE: &str = "浙江省/绍兴市/诸暨市/店口镇/湄池村";

struct App {
    router: Router,
    service: Arc<Service>,
    dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = CaseStore::open_dir(dir.path()).await.unwrap();
    app_on(store, dir).await
}

async fn app_on(store: CaseStore, dir: tempfile::TempDir) -> App {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = config::load_pipeline(&root.join("config"), &root.join("models")).unwrap();
    let index = SearchIndex::open(&dir.path().join("index")).unwrap();
    let sla = config::load_sla(&root.join("config")).unwrap();
    let service = Arc::new(Service::new(pipeline, store, index, sla).await.unwrap());
    let router = router(AppState { service: service.clone(), metrics: Arc::new(Metrics::default()) });
    App { router, service, dir }
}

impl App {
    async fn user(&self, name: &str, role: &str, region: Option<&str>, mediator: Option<&str>) -> String {
        let input = NewUser { name: name.into(), role: role.into(), region: region.map(str::to_string), mediator_id: mediator.map(str::to_string), days: None };
        add_user(self.service.store(), input, "test").await.unwrap().1
    }

    async fn raw(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, headers, bytes)
    }

    async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        let (status, _, bytes) = self.raw(req).await;
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())) };
        (status, value)
    }

    /// Creates a case as `token` and returns its id.
    async fn create(&self, token: &str, text: &str, region: &str, extra: Value) -> i64 {
        let mut body = json!({"text": text, "region": region});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                body[k] = v;
            }
        }
        let (status, v) = self.call("POST", "/api/cases", Some(token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["case"]["id"].as_i64().unwrap()
    }
}

const WAGES: &str = "枫源村工地包工头拖欠我们二十多个工人三个月工资，共十八万元，我的电话13812345678，再不给就去镇政府拉横幅";
const NOISE: &str = "楼上邻居每天晚上十一点以后还在跺脚、拖椅子，孩子睡不着，说了几次都没用";

fn path_with_ids(path: &str) -> String {
    path.replace("{id}", "1").replace("{name}", "nobody")
}

#[tokio::test]
async fn every_call_but_health_and_the_document_needs_a_valid_token() {
    let app = app().await;
    let (status, v) = app.call("GET", "/healthz", None, None).await;
    assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    // Expired and revoked tokens.
    let expired_token = "fq_expired_token_for_test";
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    let user = User { name: "old".into(), role: Role::Admin, region: None, mediator_id: None, created_at: past, expires_at: Some(past), revoked: false };
    app.service.store().add_user(&user, &fengqiao::access::token_hash(expired_token), "test").await.unwrap();
    let revoked = app.user("gone", "admin", None, None).await;
    app.service.store().revoke_user("gone", "test").await.unwrap();
    for (endpoint, _) in fengqiao::http::endpoints() {
        let uri = path_with_ids(endpoint.path);
        if !endpoint.auth {
            continue;
        }
        for (token, code) in [(None, "unauthenticated"), (Some("fq_forged"), "unauthenticated"), (Some(expired_token), "token_expired"), (Some(revoked.as_str()), "token_expired")] {
            let (status, v) = app.call(endpoint.method, &uri, token, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {uri} with {token:?}: {v}", endpoint.method);
            assert_eq!(v["error"]["code"], code, "{} {uri}", endpoint.method);
            assert!(v["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()));
        }
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let (status, doc) = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            documented += 1;
            // Every documented operation is routed: the router answers it with something other
            // than "no such route" or "method not allowed".
            let (status, v) = app.call(&method.to_uppercase(), &path_with_ids(path), Some(&admin), None).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(v["error"]["code"], "no_such_route", "{method} {path} is documented but not routed");
            // Request bodies point at schemas that exist.
            if let Some(r) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                let name = r.rsplit('/').next().unwrap();
                assert!(doc["components"]["schemas"][name].is_object(), "{method} {path}: schema {name} missing");
            }
        }
    }
    // And every routed operation is documented, once.
    assert_eq!(documented, fengqiao::http::endpoints().len());
    let (status, v) = app.call("GET", "/api/no-such-thing", Some(&admin), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("no_such_route")));
    let (status, _) = app.call("DELETE", "/api/triage", Some(&admin), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_operator_triages_and_saves_a_case_that_supervisors_can_find() {
    let app = app().await;
    let op = app.user("王芳", "operator", Some(FENGQIAO_TOWN), None).await;
    let sup = app.user("李督办", "supervisor", Some(FENGQIAO_TOWN), None).await;
    let (status, t) = app.call("POST", "/api/triage", Some(&op), Some(json!({"text": WAGES, "phone": "13812345678"}))).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["type"]["label"], "labor");
    assert_eq!(t["region"], FENGQIAO_TOWN, "the operator's region is filled in");
    assert!(t["risk"]["reasons"].as_array().unwrap().len() >= 1);
    assert!(t["routing"]["tier"].is_string());
    // Nothing was stored by triage.
    assert_eq!(app.service.store().count().await.unwrap(), 0);
    let (status, created) = app.call("POST", "/api/cases", Some(&op), Some(json!({"text": WAGES, "region": FENGYUAN, "phone": "13812345678", "type": "labor", "risk": "orange"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let case = &created["case"];
    let id = case["id"].as_i64().unwrap();
    assert_eq!(case["confirmed_type"], "labor");
    assert_eq!(case["confirmed_risk"], "orange");
    assert!(case["due_at"].is_string());
    assert_eq!(case["status"], if case["mediator_id"].is_string() { "assigned" } else { "new" });
    // Operators do not search.
    let (status, v) = app.call("GET", "/api/search?q=拖欠工资", Some(&op), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    app.service.sync_index().await.unwrap();
    let (status, found) = app.call("GET", &format!("/api/search?q={}", urlencode("拖欠 电话")), Some(&sup), None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let (_, everything) = app.call("GET", "/api/search", Some(&sup), None).await;
    assert_eq!(found["total"], 1, "{found} / all: {everything}");
    assert_eq!(found["hits"][0]["id"], id);
    let snippet = found["hits"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<b>") && !snippet.contains("13812345678"), "{snippet}");
    // Traditional input finds the simplified text.
    let (_, found) = app.call("GET", &format!("/api/search?q={}", urlencode("拖欠 電話")), Some(&sup), None).await;
    assert_eq!(found["total"], 1, "拖欠 電話 (traditional)");
    // The same matter told again is found through the index as a near-duplicate, and by phone.
    let (_, again) = app.call("POST", "/api/triage", Some(&op), Some(json!({"text": format!("{WAGES}。"), "region": FENGYUAN, "phone": "13812345678"}))).await;
    let relations: Vec<(i64, &str)> = again["related"].as_array().unwrap().iter().map(|r| (r["id"].as_i64().unwrap(), r["relation"].as_str().unwrap())).collect();
    assert!(relations.contains(&(id, "similar_text")) && relations.contains(&(id, "same_phone")), "{relations:?}");
    let (_, elsewhere) = app.call("POST", "/api/triage", Some(&op), Some(json!({"text": WAGES, "region": "浙江省/绍兴市/诸暨市/枫桥镇/枫溪村"}))).await;
    assert!(elsewhere["related"].as_array().unwrap().is_empty(), "near-duplicates are looked for in the same region only");
    // The timeline starts with the creation and the operator's confirmations.
    let (_, detail) = app.call("GET", &format!("/api/cases/{id}"), Some(&sup), None).await;
    let kinds: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "created");
    // Staff labels are there for retraining.
    let labels = app.service.store().staff_labels().await.unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!((labels[0].case_id, labels[0].dispute_type.as_str()), (id, "labor"));
}

#[tokio::test]
async fn a_township_supervisor_never_sees_another_townships_cases() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let sup = app.user("枫桥督办", "supervisor", Some(FENGQIAO_TOWN), None).await;
    let ours = app.create(&admin, NOISE, FENGYUAN, json!({})).await;
    let theirs = app.create(&admin, &format!("{NOISE}，已经三个月了"), DIANKOU_VILLAGE, json!({})).await;
    app.service.sync_index().await.unwrap();
    let (_, all) = app.call("GET", "/api/search?q=%E9%82%BB%E5%B1%85", Some(&admin), None).await;
    assert_eq!(all["total"], 2);
    let (_, mine) = app.call("GET", "/api/search?q=%E9%82%BB%E5%B1%85", Some(&sup), None).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["hits"][0]["id"], ours);
    let regions: Vec<&String> = mine["facets"]["region"].as_object().unwrap().keys().collect();
    assert!(regions.iter().all(|r| r.starts_with(FENGQIAO_TOWN)), "{regions:?}");
    // Asking for the whole county is narrowed to the township; asking for the other one is refused.
    let (_, county) = app.call("GET", "/api/search?region=%E6%B5%99%E6%B1%9F%E7%9C%81%2F%E7%BB%8D%E5%85%B4%E5%B8%82%2F%E8%AF%B8%E6%9A%A8%E5%B8%82", Some(&sup), None).await;
    assert_eq!(county["total"], 1);
    let other = urlencode(DIANKOU_VILLAGE);
    let (status, _) = app.call("GET", &format!("/api/search?region={other}"), Some(&sup), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // By id it does not exist for them.
    let (status, v) = app.call("GET", &format!("/api/cases/{theirs}"), Some(&sup), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    for action in ["transition", "labels", "notes", "assign"] {
        let body = match action {
            "transition" => json!({"to": "in_progress"}),
            "labels" => json!({"risk": "red"}),
            "notes" => json!({"text": "看看"}),
            _ => json!({"mediator_id": "M01"}),
        };
        let (status, _) = app.call("POST", &format!("/api/cases/{theirs}/{action}"), Some(&sup), Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    // The export holds exactly their filtered set.
    let (status, headers, bytes) = app.raw(Request::get("/api/search/export").header(header::AUTHORIZATION, format!("Bearer {sup}")).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let ids: Vec<i64> = reader.records().map(|r| r.unwrap()[0].parse().unwrap()).collect();
    assert_eq!(ids, vec![ours]);
    // Overdue, dashboard and queue views are scoped too.
    let (_, dash) = app.call("GET", "/api/dashboard?days=7", Some(&sup), None).await;
    let total: i64 = dash["by_risk"].as_object().unwrap().values().flat_map(|v| v.as_array().unwrap().iter().map(|n| n.as_i64().unwrap())).sum();
    assert_eq!(total, 1, "{dash}");
    assert!(dash["region_type"]["regions"].as_array().unwrap().iter().all(|r| r.as_str().unwrap().starts_with(FENGQIAO_TOWN)));
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn personal_data_is_masked_and_unmasked_views_are_audited() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let op = app.user("接线员甲", "operator", None, None).await;
    let sup = app.user("督办乙", "supervisor", None, None).await;
    let id = app.create(&op, WAGES, FENGYUAN, json!({"phone": "139 0000 1111", "caller_name": "张伟"})).await;
    let (_, v) = app.call("GET", &format!("/api/cases/{id}"), Some(&sup), None).await;
    let case = &v["case"];
    assert_eq!(case["masked"], true);
    assert_eq!(case["caller_phone"], "139****1111");
    assert_eq!(case["caller_name"], "张*");
    assert!(case["text"].as_str().unwrap().contains("138****5678"));
    let (status, v) = app.call("GET", &format!("/api/cases/{id}?unmask=true"), Some(&sup), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["case"]["caller_phone"], "13900001111");
    assert!(v["case"]["text"].as_str().unwrap().contains("13812345678"));
    let (status, _) = app.call("GET", &format!("/api/cases/{id}?unmask=true"), Some(&op), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "operators may not unmask");
    let (_, audit) = app.call("GET", "/api/audit", Some(&admin), None).await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["action"] == "view_unmasked" && e["actor"] == "督办乙" && e["case_id"] == id), "{audit}");
    assert!(entries.iter().any(|e| e["action"] == "create_cases" && e["actor"] == "接线员甲"));
    let (status, _) = app.call("GET", "/api/audit", Some(&sup), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_mediator_works_their_own_queue_only() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let id = app.create(&admin, NOISE, FENGYUAN, json!({"type": "neighbor", "risk": "blue"})).await;
    let (_, v) = app.call("GET", &format!("/api/cases/{id}"), Some(&admin), None).await;
    let mediator = v["case"]["mediator_id"].as_str().expect("a village mediator is on the example roster").to_string();
    let med = app.user("调解员", "mediator", None, Some(&mediator)).await;
    let other_id = app.service.store().roster().await.unwrap().mediators().iter().find(|m| m.id != mediator).unwrap().id.clone();
    let other = app.user("别的调解员", "mediator", None, Some(&other_id)).await;
    let (status, q) = app.call("GET", "/api/queue", Some(&med), None).await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert!(q["cases"].as_array().unwrap().iter().any(|c| c["id"] == id));
    let (_, q) = app.call("GET", "/api/queue", Some(&other), None).await;
    assert!(q["cases"].as_array().unwrap().iter().all(|c| c["id"] != id));
    let (status, _) = app.call("GET", &format!("/api/cases/{id}"), Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Out of order is a conflict with the allowed steps named.
    let (status, v) = app.call("POST", &format!("/api/cases/{id}/transition"), Some(&med), Some(json!({"to": "resolved"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));
    assert!(v["error"]["message"].as_str().unwrap().contains("in_progress"));
    for (to, note) in [("in_progress", "已电话联系双方"), ("resolved", "双方达成口头协议")] {
        let (status, v) = app.call("POST", &format!("/api/cases/{id}/transition"), Some(&med), Some(json!({"to": to, "note": note}))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["case"]["status"], to);
    }
    let (status, _) = app.call("POST", &format!("/api/cases/{id}/notes"), Some(&med), Some(json!({"text": "回访：满意"}))).await;
    assert_eq!(status, StatusCode::OK);
    // Mediators neither search nor reassign.
    assert_eq!(app.call("GET", "/api/search", Some(&med), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.call("POST", &format!("/api/cases/{id}/assign"), Some(&med), Some(json!({"mediator_id": other_id}))).await.0, StatusCode::FORBIDDEN);
    let (_, d) = app.call("GET", &format!("/api/cases/{id}"), Some(&med), None).await;
    let kinds: Vec<&str> = d["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "status").count(), 2);
    assert_eq!(*kinds.last().unwrap(), "note");
    // A resolved case no longer counts toward the mediator's load.
    let (_, roster) = app.call("GET", "/api/mediators", Some(&admin), None).await;
    let load = roster["mediators"].as_array().unwrap().iter().find(|m| m["id"] == mediator.as_str()).unwrap()["load"].as_i64().unwrap();
    assert_eq!(load, 0);
}

#[tokio::test]
async fn bad_input_gets_a_stable_code_and_stores_nothing() {
    let app = app().await;
    let op = app.user("op", "operator", None, None).await;
    let auth = format!("Bearer {op}");
    let post = |body: Body, content_type: Option<&str>| {
        let mut b = Request::post("/api/cases").header(header::AUTHORIZATION, auth.clone());
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(body).unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (post(Body::from("{\"text\": \"欠薪"), Some("application/json")), StatusCode::BAD_REQUEST, "malformed_json"),
        (post(Body::from("{\"text\": \"欠薪\"}"), None), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (post(Body::from("{\"text\": \"欠薪\"}"), Some("text/plain")), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (post(Body::from(format!("{{\"text\": \"{}\"}}", "欠".repeat(100_000))), Some("application/json")), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        (post(Body::from("{\"text\": \"欠薪\", \"priority\": 1}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (post(Body::from("{\"text\": 42}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (post(Body::from("{\"text\": \"   \"}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_text"),
        (post(Body::from(format!("{{\"text\": \"{}\"}}", "欠".repeat(20_001))), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_text"),
        (post(Body::from("{\"text\": \"老板拖欠工资三个月\", \"type\": \"wages\"}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "unknown_label"),
        (post(Body::from("{\"text\": \"老板拖欠工资三个月\", \"risk\": \"purple\"}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "unknown_label"),
        (post(Body::from("{\"text\": \"老板拖欠工资三个月\", \"phone\": \"call me\"}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
        (post(Body::from("{\"text\": \"老板拖欠工资三个月\", \"region\": \"浙江省//x\"}"), Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_region"),
        (post(Body::from(vec![0xff, 0xfe, 0x00, 0x41]), Some("application/json")), StatusCode::BAD_REQUEST, "malformed_json"),
    ];
    for (req, status, code) in cases {
        let (got, _, bytes) = app.raw(req).await;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!((got, v["error"]["code"].as_str()), (status, Some(code)), "{v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(app.service.store().count().await.unwrap(), 0, "nothing half-written");
    let (status, v) = app.call("GET", "/api/cases/abc", Some(&op), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, v) = app.call("GET", "/api/cases/1?unmask=perhaps", Some(&op), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
    let (status, v) = app.call("POST", "/api/cases/99/notes", Some(&op), Some(json!({"text": "x".repeat(2001)}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("note_too_long")));
}

#[tokio::test]
async fn an_open_case_past_its_due_time_is_escalated_once() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let id = app.create(&admin, WAGES, FENGYUAN, json!({"risk": "red"})).await;
    let (_, v) = app.call("GET", &format!("/api/cases/{id}"), Some(&admin), None).await;
    let due = chrono::DateTime::parse_from_rfc3339(v["case"]["due_at"].as_str().unwrap()).unwrap();
    let received = chrono::DateTime::parse_from_rfc3339(v["case"]["received_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - received).num_hours(), 2, "red cases are due in two hours (config/sla.toml)");
    assert_eq!(app.service.sweep(chrono::Utc::now()).await.unwrap(), 0);
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    assert_eq!(app.service.sweep(later).await.unwrap(), 1);
    assert_eq!(app.service.sweep(later).await.unwrap(), 0, "marked once");
    let (_, v) = app.call("GET", &format!("/api/cases/{id}"), Some(&admin), None).await;
    let overdue: Vec<&Value> = v["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "overdue").collect();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["actor"], "system");
    // Reassigning sets a new due time and clears the mark.
    let other = app.service.store().roster().await.unwrap().mediators().iter().map(|m| m.id.clone()).find(|m| Some(m.as_str()) != v["case"]["mediator_id"].as_str()).unwrap();
    let (status, v) = app.call("POST", &format!("/api/cases/{id}/assign"), Some(&admin), Some(json!({"mediator_id": other, "note": "原调解员超时"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["case"]["mediator_id"], other.as_str());
    assert_eq!(app.service.sweep(chrono::Utc::now()).await.unwrap(), 0);
    let (status, v) = app.call("POST", &format!("/api/cases/{id}/assign"), Some(&admin), Some(json!({"mediator_id": "NOBODY"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_mediator")));
}

#[tokio::test]
async fn only_admins_change_the_roster_rules_and_users() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let sup = app.user("sup", "supervisor", None, None).await;
    let m = json!({"name": "周大海", "stars": 5, "tier": "emergency", "region": "浙江省/绍兴市/诸暨市", "specialties": [], "capacity": 3});
    assert_eq!(app.call("PUT", "/api/mediators/M99", Some(&sup), Some(m.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, v) = app.call("PUT", "/api/mediators/M99", Some(&admin), Some(m)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = app.call("PUT", "/api/mediators/M98", Some(&admin), Some(json!({"name": "x", "stars": 9, "tier": "village", "region": "浙江省", "capacity": 1}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_mediator")));
    let (_, rules) = app.call("GET", "/api/routing-rules", Some(&admin), None).await;
    let toml = rules["toml"].as_str().unwrap().to_string();
    assert_eq!(app.call("GET", "/api/routing-rules", Some(&sup), None).await.0, StatusCode::FORBIDDEN);
    let (status, v) = app.call("PUT", "/api/routing-rules", Some(&admin), Some(json!({"toml": "[risk_tier]\nblue = \"village\"\n"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_rules")));
    let (status, _) = app.call("PUT", "/api/routing-rules", Some(&admin), Some(json!({"toml": toml}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.service.store().setting("routing.toml").await.unwrap().is_some());
    let (status, v) = app.call("POST", "/api/users", Some(&admin), Some(json!({"name": "新接线员", "role": "operator", "region": FENGQIAO_TOWN}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = v["token"].as_str().unwrap().to_string();
    let (status, me) = app.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!((status, me["role"].as_str(), me["region"].as_str()), (StatusCode::OK, Some("operator"), Some(FENGQIAO_TOWN)));
    let (status, v) = app.call("POST", "/api/users", Some(&admin), Some(json!({"name": "新接线员", "role": "operator"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("exists")));
    let (status, v) = app.call("POST", "/api/users", Some(&admin), Some(json!({"name": "m", "role": "mediator"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("missing_mediator")));
    let (_, users) = app.call("GET", "/api/users", Some(&admin), None).await;
    assert!(!users.to_string().contains(&token), "tokens are never listed");
    assert_eq!(app.call("DELETE", "/api/users/%E6%96%B0%E6%8E%A5%E7%BA%BF%E5%91%98", Some(&admin), None).await.0, StatusCode::NO_CONTENT);
    let (status, v) = app.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_expired")));
}

#[tokio::test]
async fn metrics_pages_and_request_ids() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    app.call("GET", "/api/me", Some(&admin), None).await;
    let (status, headers, body) = app.raw(Request::get("/metrics").header(header::AUTHORIZATION, format!("Bearer {admin}")).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key("x-request-id"));
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("fengqiao_http_requests_total{method=\"GET\",route=\"/api/me\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("fengqiao_cases 0"));
    for path in fengqiao::web::page_paths() {
        let (status, headers, body) = app.raw(Request::get(path_with_ids(path)).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains("/assets/app.js"), "{path} loads the shared script");
        // Every script and stylesheet a page names is served.
        for asset in html.split("/assets/").skip(1).map(|s| s.split('"').next().unwrap()) {
            let (status, _, _) = app.raw(Request::get(format!("/assets/{asset}")).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{path} needs /assets/{asset}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_from_the_desk_become_training_data() {
    let app = app().await;
    let op = app.user("op", "operator", None, None).await;
    // Three cases the operator labelled, one of them against the model's call.
    app.create(&op, WAGES, FENGYUAN, json!({"type": "labor", "risk": "orange"})).await;
    app.create(&op, NOISE, FENGYUAN, json!({"type": "neighbor", "risk": "blue"})).await;
    let id = app.create(&op, "小区物业把业主的停车位租给外来车辆，收入去向不明，业主要求公开账目", FENGYUAN, json!({"type": "property_mgmt", "risk": "yellow"})).await;
    let (status, _) = app.call("POST", &format!("/api/cases/{id}/labels"), Some(&op), Some(json!({"risk": "orange"}))).await;
    assert_eq!(status, StatusCode::OK);
    // An imported case with labels is not staff work and stays out.
    let labels = app.service.store().staff_labels().await.unwrap();
    assert_eq!(labels.len(), 3);
    assert_eq!(labels.iter().find(|l| l.case_id == id).unwrap().risk, fengqiao::RiskLevel::Orange, "the latest correction counts");
    // A small corpus keeps the test quick; the command is the one staff run.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = app.dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for entry in std::fs::read_dir(root.join("corpora/disputes")).unwrap() {
        let path = entry.unwrap().path();
        let head: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().take(40).map(str::to_string).collect();
        std::fs::write(corpus.join(path.file_name().unwrap()), head.join("\n") + "\n").unwrap();
    }
    let out = app.dir.path().join("new-model");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fengqiao"))
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(["train", "--with-corrections", "--corpus"])
        .arg(&corpus)
        .arg("--out")
        .arg(&out)
        .env_remove("FENGQIAO_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("3 staff-labelled cases"), "{stderr}");
    assert!(stdout.contains("current") && stdout.contains("new") && stdout.contains("corpus dev split"), "{stdout}");
    let bundle = fengqiao::model::ModelBundle::from_bytes(&std::fs::read(out.join("fengqiao.model")).unwrap()).unwrap();
    assert_eq!(bundle.type_labels().len(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_created_at_the_same_moment_are_all_stored_with_their_own_actor() {
    let app = app().await;
    let a = app.user("甲", "operator", None, None).await;
    let b = app.user("乙", "operator", None, None).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let router = app.router.clone();
        let token = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let body = json!({"text": format!("{NOISE}，第{i}次反映"), "region": FENGYUAN, "external_id": format!("desk-{i}")});
            let req = Request::post("/api/cases").header(header::AUTHORIZATION, format!("Bearer {token}")).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
            let response = router.oneshot(req).await.unwrap();
            let status = response.status();
            let v: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
            (status, v["case"]["id"].as_i64().unwrap())
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (status, id) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED);
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24, "every request got its own case");
    assert_eq!(app.service.store().count().await.unwrap(), 24);
    // Each case's timeline names the operator who created it.
    for id in ids {
        let events = app.service.store().events(id).await.unwrap();
        let c = app.service.store().case(id).await.unwrap();
        let n: usize = c.fields.external_id.unwrap().trim_start_matches("desk-").parse().unwrap();
        assert_eq!(events[0].actor, if n % 2 == 0 { "甲" } else { "乙" });
    }
    // The same external id again is the same case.
    let again = app.create(&a, &format!("{NOISE}，第0次反映"), FENGYUAN, json!({"external_id": "desk-0"})).await;
    assert_eq!(app.service.store().count().await.unwrap(), 24);
    assert_eq!(app.service.store().case(again).await.unwrap().fields.external_id.as_deref(), Some("desk-0"));
}

/// The same service on PostgreSQL (127.0.0.1:5432, database `test`, a schema of its own, or
/// FENGQIAO_TEST_POSTGRES; `off` skips it): the SQL the service adds to the store's runs there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_flow_runs_on_postgresql_too() {
    let base = std::env::var("FENGQIAO_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base == "off" {
        eprintln!("FENGQIAO_TEST_POSTGRES=off: skipping");
        return;
    }
    let schema = format!("fq_api_{}_{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let pool = sqlx::postgres::PgPool::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base} is required ({e}); set FENGQIAO_TEST_POSTGRES=off to skip"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&pool).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = CaseStore::open(&format!("{base}{sep}options=-c%20search_path%3D{schema}")).await.unwrap();
    let app = app_on(store, tempfile::tempdir().unwrap()).await;
    let admin = app.user("admin", "admin", None, None).await;
    let op = app.user("op", "operator", None, None).await;
    let sup = app.user("sup", "supervisor", Some(FENGQIAO_TOWN), None).await;
    let ours = app.create(&op, WAGES, FENGYUAN, json!({"type": "labor", "risk": "orange", "phone": "13812345678"})).await;
    let theirs = app.create(&op, NOISE, DIANKOU_VILLAGE, json!({"type": "neighbor", "risk": "blue"})).await;
    app.service.sync_index().await.unwrap();
    let (_, found) = app.call("GET", &format!("/api/search?q={}", urlencode("拖欠")), Some(&sup), None).await;
    assert_eq!((found["total"].as_i64(), found["hits"][0]["id"].as_i64()), (Some(1), Some(ours)));
    assert_eq!(app.call("GET", &format!("/api/cases/{theirs}"), Some(&sup), None).await.0, StatusCode::NOT_FOUND);
    let (status, dash) = app.call("GET", "/api/dashboard?days=3", Some(&sup), None).await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(dash["by_type"]["labor"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).sum::<i64>(), 1);
    assert_eq!(dash["open_high"].as_array().unwrap().len(), 1);
    let (_, all) = app.call("GET", "/api/dashboard", Some(&admin), None).await;
    assert_eq!(all["region_type"]["regions"].as_array().unwrap().len(), 1, "both cases are in one county: {}", all["region_type"]);
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    assert_eq!(app.service.sweep(later).await.unwrap(), 2);
    let (status, _, csv) = app.raw(Request::get("/api/search/export").header(header::AUTHORIZATION, format!("Bearer {admin}")).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(String::from_utf8_lossy(&csv).lines().count(), 3, "header and two cases");
    let mediator = app.service.store().case(ours).await.unwrap().fields.mediator_id.unwrap();
    assert_eq!(app.service.store().open_loads().await.unwrap().get(&mediator), Some(&1));
    let (status, _) = app.call("POST", &format!("/api/cases/{ours}/notes"), Some(&op), Some(json!({"text": "已回电"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.service.store().staff_labels().await.unwrap().len(), 2);
    let (_, audit) = app.call("GET", "/api/audit", Some(&admin), None).await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "overdue"));
}

/// Regression tests for holes found in review: triage listing another region's cases by phone,
/// an external id revealing another region's case, assigning to another area's mediator, and
/// phone numbers in timeline notes.
#[tokio::test]
async fn reach_holds_in_triage_creation_assignment_and_notes() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let op = app.user("枫桥接线员", "operator", Some(FENGQIAO_TOWN), None).await;
    let sup = app.user("枫桥督办", "supervisor", Some(FENGQIAO_TOWN), None).await;
    let elsewhere = app.create(&admin, NOISE, DIANKOU_VILLAGE, json!({"phone": "13955556666", "external_id": "dk-1"})).await;
    // Triage by the same phone from another township does not list the other township's case.
    let (status, t) = app.call("POST", "/api/triage", Some(&op), Some(json!({"text": NOISE, "phone": "13955556666"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t["related"].as_array().unwrap().iter().all(|r| r["id"] != elsewhere), "{}", t["related"]);
    // Reusing its external id does not reveal it.
    let (status, v) = app.call("POST", "/api/cases", Some(&op), Some(json!({"text": NOISE, "external_id": "dk-1"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("exists")), "{v}");
    assert!(!v.to_string().contains("13955556666"));
    // A township supervisor cannot hand a case to another area's mediator.
    let ours = app.create(&op, WAGES, FENGYUAN, json!({})).await;
    let town = fengqiao::routing::RegionPath::parse(FENGQIAO_TOWN).unwrap();
    let roster = app.service.store().roster().await.unwrap();
    let outsider = roster.mediators().iter().find(|m| !town.contains(&m.region) && !m.region.contains(&town)).expect("the example roster has other townships");
    let (status, _) = app.call("POST", &format!("/api/cases/{ours}/assign"), Some(&sup), Some(json!({"mediator_id": outsider.id}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Notes with phone numbers are masked for those who may not unmask.
    let (status, _) = app.call("POST", &format!("/api/cases/{ours}/notes"), Some(&sup), Some(json!({"text": "已联系当事人13700001111"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, d) = app.call("GET", &format!("/api/cases/{ours}"), Some(&op), None).await;
    assert!(!d["events"].to_string().contains("13700001111"), "{}", d["events"]);
    let (_, d) = app.call("GET", &format!("/api/cases/{ours}?unmask=true"), Some(&sup), None).await;
    assert!(d["events"].to_string().contains("13700001111"));
}

/// The nightly report is built from the stored alerts of the reader's region: a township
/// supervisor sees their township's rise, not the other township's, and not the run's global
/// figures; an admin sees everything.
#[tokio::test]
async fn the_hotspot_report_shows_each_reader_their_own_region() {
    use fengqiao::store::Alert;
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let sup = app.user("枫桥督办", "supervisor", Some(FENGQIAO_TOWN), None).await;
    let op = app.user("接线员", "operator", Some(FENGQIAO_TOWN), None).await;
    let (status, v) = app.call("GET", "/api/hotspots/report", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no run yet: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("hotspots run"));
    let chart: Vec<Value> = (0..56).map(|i| json!({"date": format!("d{i}"), "observed": i % 3, "expected": 1.0, "upper": 3})).collect();
    let cell = |region: &str, reason: &str| Alert {
        id: 0,
        day: "2026-11-21".into(),
        region: region.into(),
        dispute_type: Some("labor".into()),
        observed: 9,
        expected: 1.2,
        upper: 4.0,
        score: 1e-6,
        reason: reason.into(),
        kind: "cell".into(),
        evidence: json!({"window": 1, "window_observed": 9, "window_expected": 1.2, "callers": 9, "children": [], "chart": chart}),
    };
    let run = Alert { region: String::new(), dispute_type: None, kind: "run".into(), reason: "run".into(), evidence: json!({"day": "2026-11-21", "generated_at": "2026-11-22T02:00:03+08:00", "cases_read": 4321, "repeats": 5, "without_region": 2, "cells": 99, "alerts": [], "topics": [], "callers": [], "warnings": [], "seconds": 1.0}), ..cell("", "") };
    app.service.store().replace_alerts("2026-11-21", &[cell(FENGYUAN, "枫源村欠薪升高"), cell(DIANKOU_VILLAGE, "湄池村欠薪升高"), run]).await.unwrap();
    let page = |token: String, uri: &'static str| {
        let app = &app;
        async move {
            let req = Request::builder().uri(uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap();
            let (status, headers, body) = app.raw(req).await;
            (status, headers.get(header::CONTENT_TYPE).map(|h| h.to_str().unwrap().to_string()), String::from_utf8(body).unwrap())
        }
    };
    let (status, kind, all) = page(admin.clone(), "/api/hotspots/report").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.unwrap().starts_with("text/html"));
    assert!(all.contains("枫源村欠薪升高") && all.contains("湄池村欠薪升高") && all.contains("4321"));
    assert_eq!(all.matches("<svg").count(), 2);
    let (status, _, mine) = page(sup.clone(), "/api/hotspots/report?day=2026-11-21").await;
    assert_eq!(status, StatusCode::OK);
    assert!(mine.contains("枫源村欠薪升高") && !mine.contains("湄池村欠薪升高"), "{mine}");
    assert!(!mine.contains("4321"), "global figures are not shown to a township");
    let (_, v) = app.call("GET", "/api/alerts?day=2026-11-21", Some(&sup), None).await;
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["alerts"][0]["kind"], "cell");
    let (status, v) = app.call("GET", "/api/hotspots/report?day=2026-11-31", Some(&admin), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["code"], "invalid_day");
    let (status, _) = app.call("GET", "/api/hotspots/report?day=2020-01-01", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("GET", "/api/hotspots/report", Some(&op), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "operators do not read the report");
}

/// Outcomes and follow-ups feed the star evaluation; an admin confirms a grade (routing uses
/// it), rejects another; subsidies are priced at the confirmed grade.
#[tokio::test]
async fn outcomes_become_star_suggestions_that_an_admin_confirms_and_subsidies() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let op = app.user("接线员", "operator", None, None).await;
    let mediator = "v-fengyuan-1";
    let mut ids = Vec::new();
    for k in 0..7 {
        let id = app.create(&admin, &format!("{NOISE}，这是第{k}次反映"), FENGYUAN, json!({"type": "neighbor", "risk": "yellow"})).await;
        let (status, v) = app.call("POST", &format!("/api/cases/{id}/assign"), Some(&admin), Some(json!({"mediator_id": mediator}))).await;
        assert!(status == StatusCode::OK || v["error"]["code"] == "invalid_transition", "{v}");
        ids.push(id);
    }
    let med = app.user("陈国良", "mediator", None, Some(mediator)).await;
    // A follow-up before an outcome is refused; bad results and scores are user errors.
    let (status, v) = app.call("POST", &format!("/api/cases/{}/follow-up", ids[0]), Some(&med), Some(json!({"satisfaction": 5}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, v) = app.call("POST", &format!("/api/cases/{}/outcome", ids[0]), Some(&med), Some(json!({"result": "maybe"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_label")));
    for (k, id) in ids.iter().enumerate() {
        let result = if k < 5 { "written" } else if k == 5 { "oral" } else { "failed" };
        let (status, v) = app.call("POST", &format!("/api/cases/{id}/outcome"), Some(&med), Some(json!({"result": result, "note": "调解书已签"}))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["case"]["status"], if k < 6 { "resolved" } else { "failed" });
        let (status, v) = app.call("POST", &format!("/api/cases/{id}/follow-up"), Some(&med), Some(json!({"satisfaction": if k < 6 { 5 } else { 2 }}))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let (status, v) = app.call("POST", &format!("/api/cases/{}/follow-up", ids[0]), Some(&med), Some(json!({"satisfaction": 7}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_satisfaction")));
    // The failed case later turned criminal.
    let (status, _) = app.call("POST", &format!("/api/cases/{}/follow-up", ids[6]), Some(&admin), Some(json!({"criminal": true, "note": "双方斗殴，已移送公安"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, d) = app.call("GET", &format!("/api/cases/{}", ids[6]), Some(&admin), None).await;
    let kinds: Vec<&str> = d["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"outcome") && kinds.contains(&"follow_up"), "{kinds:?}");

    let period = {
        let now = chrono::Utc::now() + chrono::Duration::hours(8);
        format!("{}Q{}", chrono::Datelike::year(&now), (chrono::Datelike::month(&now) - 1) / 3 + 1)
    };
    assert_eq!(app.call("GET", &format!("/api/mediators/evaluation?period={period}"), Some(&op), None).await.0, StatusCode::FORBIDDEN);
    let (status, v) = app.call("GET", "/api/mediators/evaluation?period=2026Q5", Some(&admin), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_period")));
    let (status, e) = app.call("GET", &format!("/api/mediators/evaluation?period={period}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let m = e["mediators"].as_array().unwrap().iter().find(|m| m["id"] == mediator).unwrap();
    assert_eq!(m["figures"]["with_outcome"], 7, "{m}");
    assert_eq!(m["figures"]["criminal"], json!([ids[6]]));
    assert_eq!(m["figures"]["criminal_after_poor"], json!([ids[6]]));
    let s = &m["suggestion"];
    assert_eq!(s["current"], 2);
    assert!(s["suggested"].as_u64().unwrap() <= 2, "a criminal turn after a failed mediation blocks promotion: {s}");
    assert!(s["reasons"].to_string().contains("民转刑"), "the criminal turn is named: {s}");
    // An empty period is answered, not an error.
    let (status, empty) = app.call("GET", "/api/mediators/evaluation?period=2019Q1", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty["mediators"].as_array().unwrap().iter().all(|m| m["figures"]["cases"] == 0));
    // The admin confirms three stars anyway (their judgement, recorded) and rejects a change for another.
    let (status, h) = app.call("POST", &format!("/api/mediators/{mediator}/stars"), Some(&admin), Some(json!({"decision": "confirm", "stars": 3, "period": period, "note": "镇司法所考核通过"}))).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["events"][0]["kind"], "stars_confirmed");
    assert_eq!(h["events"][0]["actor"], "admin");
    assert_eq!(h["events"][0]["detail"]["from"], 2);
    assert_eq!(h["events"][0]["detail"]["to"], 3);
    let (_, roster) = app.call("GET", "/api/mediators", Some(&admin), None).await;
    assert_eq!(roster["mediators"].as_array().unwrap().iter().find(|m| m["id"] == mediator).unwrap()["stars"], 3, "routing reads the confirmed stars");
    let (status, _) = app.call("POST", "/api/mediators/v-fengyuan-2/stars", Some(&admin), Some(json!({"decision": "reject", "stars": 4, "period": period}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, roster) = app.call("GET", "/api/mediators", Some(&admin), None).await;
    assert_eq!(roster["mediators"].as_array().unwrap().iter().find(|m| m["id"] == "v-fengyuan-2").unwrap()["stars"], 3, "a rejection changes nothing");
    // A second grade for an overlapping period is refused.
    let month = format!("{}-{:02}", &period[..4], (period[5..].parse::<u32>().unwrap() - 1) * 3 + 1);
    let (status, v) = app.call("POST", &format!("/api/mediators/{mediator}/stars"), Some(&admin), Some(json!({"decision": "confirm", "stars": 4, "period": month}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("overlapping_period")), "{v}");
    let (status, _) = app.call("POST", "/api/mediators/nobody/stars", Some(&admin), Some(json!({"decision": "confirm", "stars": 3, "period": period}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("POST", &format!("/api/mediators/{mediator}/stars"), Some(&admin), Some(json!({"decision": "maybe", "stars": 3, "period": period}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Subsidies at three stars: five written agreements in full, the oral one at half, nothing for the failure.
    let rules = fengqiao::rating::StarRules::shipped();
    let (status, r) = app.call("GET", &format!("/api/subsidies?period={period}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let mine = r["mediators"].as_array().unwrap().iter().find(|m| m["id"] == mediator).unwrap();
    let paid = mine["cases"].as_array().unwrap();
    assert_eq!(paid.len(), 6, "{mine}");
    let tier: fengqiao::labels::Tier = paid[0]["tier"].as_str().unwrap().parse().unwrap();
    let full = (rules.subsidy.per_case[2] * rules.weight(fengqiao::labels::RiskLevel::Yellow, tier) * 100.0).round() / 100.0;
    assert_eq!(paid[0]["amount"].as_f64().unwrap(), full, "three stars × the case's difficulty");
    assert_eq!(paid[5]["amount"].as_f64().unwrap(), (full * rules.subsidy.oral_factor * 100.0).round() / 100.0, "the oral agreement at the oral factor");
    assert!((mine["total"].as_f64().unwrap() - full * (5.0 + rules.subsidy.oral_factor)).abs() < 0.01, "{mine}");
    assert_eq!(r["by_township"][0][0], FENGQIAO_TOWN);
    let req = Request::builder().uri(format!("/api/subsidies?period={period}&format=csv")).header(header::AUTHORIZATION, format!("Bearer {admin}")).body(Body::empty()).unwrap();
    let (status, _, body) = app.raw(req).await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(body).unwrap();
    assert!(csv.starts_with('\u{feff}') && csv.contains("总计") && csv.contains(&ids[0].to_string()), "{csv}");
}

/// A dispute between villages of two townships: routed to the county (their common ancestor's
/// tier), both regions' mediators told in the timeline, and the case found by a supervisor of
/// either township.
#[tokio::test]
async fn a_cross_region_case_is_coordinated_above_both_regions_and_found_under_each() {
    let app = app().await;
    let admin = app.user("admin", "admin", None, None).await;
    let diankou = app.user("店口督办", "supervisor", Some("浙江省/绍兴市/诸暨市/店口镇"), None).await;
    let text = "枫源村和湄池村交界处的山林边界一直有争议，两村村民为砍树的事吵了好几次，昨天差点动手";
    let (status, v) = app.call("POST", "/api/cases", Some(&admin), Some(json!({"text": text, "region": FENGYUAN, "other_regions": [DIANKOU_VILLAGE], "type": "land", "risk": "yellow"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["case"]["id"].as_i64().unwrap();
    assert_eq!(v["triage"]["routing"]["tier"], "county", "two townships: coordinated by the county: {v}");
    assert!(v["triage"]["routing"]["reasons"].to_string().contains("跨区域"), "{v}");
    let (_, d) = app.call("GET", &format!("/api/cases/{id}"), Some(&admin), None).await;
    let ev = d["events"].as_array().unwrap().iter().find(|e| e["kind"] == "cross_region").expect("the regions are told");
    let regions: Vec<&str> = ev["detail"]["regions"].as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert_eq!(regions, [FENGYUAN, DIANKOU_VILLAGE]);
    assert!(!ev["detail"]["regions"][0]["mediators"].as_array().unwrap().is_empty(), "the example roster has 枫源村 mediators: {ev}");
    // The other township's supervisor reaches it by id and finds it in search.
    let (status, _) = app.call("GET", &format!("/api/cases/{id}"), Some(&diankou), None).await;
    assert_eq!(status, StatusCode::OK);
    app.service.sync_index().await.unwrap();
    let (_, found) = app.call("GET", "/api/search?q=%E5%B1%B1%E6%9E%97", Some(&diankou), None).await;
    assert_eq!(found["total"], 1, "{found}");
    // A bad second region is refused and nothing is stored.
    let (status, v) = app.call("POST", "/api/cases", Some(&admin), Some(json!({"text": text, "region": FENGYUAN, "other_regions": ["浙江省//店口镇"]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}
