//! Every route of the API, each paired with its description: the router and the OpenAPI
//! document are both built from [`endpoints`], so they cannot disagree.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use serde::Deserialize;

use super::{ApiError, AppState, Auth, Body, Params};
use crate::service::{CreateCase, MediatorInput, NewUser, SearchParams, ServiceError};
use crate::triage::TriageRequest;

/// One route as the OpenAPI document describes it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path with `{param}` placeholders (axum and OpenAPI share the syntax).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it.
    pub roles: &'static str,
    /// Whether it needs a bearer token.
    pub auth: bool,
    /// Query parameters: (name, type, description).
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// The request body's schema name in `components.schemas`, if it takes one.
    pub body: Option<&'static str>,
    /// Success status.
    pub ok: u16,
    /// Success media type.
    pub media: &'static str,
    /// The response schema name in `components.schemas`.
    pub response: &'static str,
}

type Result<T> = std::result::Result<T, ApiError>;

fn case_id(raw: &str) -> Result<i64> {
    raw.parse::<i64>().map_err(|_| ApiError(ServiceError::NotFound(format!("case `{raw}` does not exist; case ids are numbers"))))
}

const SEARCH_QUERY: &[(&str, &str, &str)] = &[
    ("q", "string", "words to find (simplified or traditional); all must occur"),
    ("region", "string", "region subtree, e.g. 浙江省/绍兴市/诸暨市"),
    ("type", "string", "dispute type code"),
    ("risk", "string", "blue, yellow, orange or red"),
    ("status", "string", "status code"),
    ("tier", "string", "village, township, county or emergency"),
    ("mediator", "string", "mediator id"),
    ("from", "string", "received at or after (YYYY-MM-DD or RFC 3339)"),
    ("to", "string", "received before (YYYY-MM-DD or RFC 3339)"),
    ("sort", "string", "relevance, time or risk"),
    ("limit", "integer", "page size, 1-100 (default 20)"),
    ("offset", "integer", "hits to skip"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnmaskQuery {
    #[serde(default)]
    unmask: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    to: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsBody {
    #[serde(default, rename = "type")]
    dispute_type: Option<String>,
    #[serde(default)]
    risk: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    mediator_id: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    result: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowUpBody {
    #[serde(default)]
    satisfaction: Option<u8>,
    #[serde(default)]
    criminal: bool,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StarDecisionBody {
    decision: String,
    stars: u8,
    period: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    period: String,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediatorQuery {
    #[serde(default)]
    mediator: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesBody {
    toml: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    #[serde(default)]
    mediator: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DayQuery {
    #[serde(default)]
    day: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DaysQuery {
    #[serde(default)]
    days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    #[serde(default)]
    limit: Option<i64>,
}

fn json(v: impl serde::Serialize) -> Response {
    axum::Json(v).into_response()
}

async fn healthz(State(s): State<AppState>) -> Response {
    match s.service.store().ping().await {
        Ok(()) => json(serde_json::json!({"status": "ok"})),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "unavailable", "reason": "the case store cannot be reached"}))).into_response()
        }
    }
}

async fn metrics(State(s): State<AppState>, Auth(_): Auth) -> Result<Response> {
    let g = s.service.gauges().await?;
    let gauges = [
        ("fengqiao_cases", "Cases in the store.", g["fengqiao_cases"]),
        ("fengqiao_indexed_cases", "Cases in the search index as of its last commit.", g["fengqiao_indexed_cases"]),
    ];
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.render(&gauges)).into_response())
}

async fn openapi_doc() -> Response {
    json(super::openapi::document())
}

async fn me(Auth(p): Auth) -> Response {
    let can_unmask = p.may(crate::access::Action::Unmask);
    json(serde_json::json!({"name": p.name, "role": p.role, "role_name": p.role.name(), "region": p.region, "mediator_id": p.mediator_id, "can_unmask": can_unmask}))
}

async fn labels(State(s): State<AppState>, Auth(_): Auth) -> Response {
    json(s.service.labels())
}

async fn triage(State(s): State<AppState>, Auth(p): Auth, Body(req): Body<TriageRequest>) -> Result<Response> {
    Ok(json(s.service.triage(&p, req).await?))
}

async fn create_case(State(s): State<AppState>, Auth(p): Auth, Body(input): Body<CreateCase>) -> Result<Response> {
    let (case, triage) = s.service.create_case(&p, input).await?;
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({"case": case, "triage": triage}))).into_response())
}

async fn get_case(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Params(q): Params<UnmaskQuery>) -> Result<Response> {
    Ok(json(s.service.case(&p, case_id(&id)?, q.unmask.unwrap_or(false)).await?))
}

async fn transition(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<TransitionBody>) -> Result<Response> {
    let case = s.service.transition(&p, case_id(&id)?, &b.to, b.note.as_deref()).await?;
    Ok(json(serde_json::json!({"case": case})))
}

async fn outcome(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<OutcomeBody>) -> Result<Response> {
    let case = s.service.outcome(&p, case_id(&id)?, &b.result, b.note.as_deref()).await?;
    Ok(json(serde_json::json!({"case": case})))
}

async fn follow_up(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<FollowUpBody>) -> Result<Response> {
    let case = s.service.follow_up(&p, case_id(&id)?, b.satisfaction, b.criminal, b.note.as_deref()).await?;
    Ok(json(serde_json::json!({"case": case})))
}

async fn star_evaluation(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<PeriodQuery>) -> Result<Response> {
    Ok(json(serde_json::to_value(s.service.star_evaluation(&p, &q.period).await?).unwrap_or_default()))
}

async fn decide_stars(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<StarDecisionBody>) -> Result<Response> {
    let confirm = match b.decision.as_str() {
        "confirm" => true,
        "reject" => false,
        other => return Err(crate::service::ServiceError::invalid_input("unknown_label", format!("decision `{other}` is not known"), "use confirm or reject").into()),
    };
    s.service.decide_stars(&p, &id, confirm, b.stars, &b.period, b.note.as_deref()).await?;
    Ok(json(serde_json::json!({"events": s.service.star_history(&p, Some(&id)).await?})))
}

async fn star_history(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<MediatorQuery>) -> Result<Response> {
    Ok(json(serde_json::json!({"events": s.service.star_history(&p, q.mediator.as_deref()).await?})))
}

async fn subsidies(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<PeriodQuery>) -> Result<Response> {
    let report = s.service.subsidies(&p, &q.period).await?;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "csv" => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"fengqiao-subsidies.csv\"")], crate::service::rating::subsidy_csv(&report)).into_response(),
        "html" => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], crate::service::rating::subsidy_html(&report)).into_response(),
        "json" => json(serde_json::to_value(report).unwrap_or_default()),
        other => return Err(crate::service::ServiceError::invalid_input("invalid_query", format!("format `{other}` is not known"), "use json, csv or html").into()),
    })
}

async fn label_case(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<LabelsBody>) -> Result<Response> {
    let case = s.service.label(&p, case_id(&id)?, b.dispute_type.as_deref(), b.risk.as_deref()).await?;
    Ok(json(serde_json::json!({"case": case})))
}

async fn assign(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<AssignBody>) -> Result<Response> {
    let case = s.service.assign(&p, case_id(&id)?, &b.mediator_id, b.note.as_deref()).await?;
    Ok(json(serde_json::json!({"case": case})))
}

async fn note(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<NoteBody>) -> Result<Response> {
    let case = s.service.note(&p, case_id(&id)?, &b.text).await?;
    Ok(json(serde_json::json!({"case": case})))
}

async fn search(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<SearchParams>) -> Result<Response> {
    Ok(json(s.service.search(&p, &q).await?))
}

async fn export(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<SearchParams>) -> Result<Response> {
    let csv = s.service.export(&p, &q).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"fengqiao-cases.csv\"")],
        csv,
    )
        .into_response())
}

async fn queue(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<QueueQuery>) -> Result<Response> {
    Ok(json(serde_json::json!({"cases": s.service.queue(&p, q.mediator.as_deref()).await?})))
}

async fn overdue(State(s): State<AppState>, Auth(p): Auth) -> Result<Response> {
    Ok(json(serde_json::json!({"cases": s.service.overdue(&p).await?})))
}

async fn dashboard(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<DaysQuery>) -> Result<Response> {
    Ok(json(s.service.dashboard(&p, q.days.unwrap_or(30)).await?))
}

async fn alerts(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<DayQuery>) -> Result<Response> {
    Ok(json(serde_json::json!({"alerts": s.service.alerts(&p, q.day.as_deref()).await?})))
}

async fn hotspot_report(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<DayQuery>) -> Result<Response> {
    let page = s.service.hotspot_report(&p, q.day.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

async fn mediators(State(s): State<AppState>, Auth(p): Auth) -> Result<Response> {
    Ok(json(serde_json::json!({"mediators": s.service.mediators(&p).await?})))
}

async fn put_mediator(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Body(b): Body<MediatorInput>) -> Result<Response> {
    Ok(json(serde_json::json!({"mediator": s.service.put_mediator(&p, &id, b).await?})))
}

async fn delete_mediator(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Response> {
    s.service.delete_mediator(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_rules(State(s): State<AppState>, Auth(p): Auth) -> Result<Response> {
    Ok(json(serde_json::json!({"toml": s.service.routing_rules(&p)?})))
}

async fn put_rules(State(s): State<AppState>, Auth(p): Auth, Body(b): Body<RulesBody>) -> Result<Response> {
    s.service.put_routing_rules(&p, &b.toml).await?;
    Ok(json(serde_json::json!({"toml": s.service.routing_rules(&p)?})))
}

async fn users(State(s): State<AppState>, Auth(p): Auth) -> Result<Response> {
    Ok(json(serde_json::json!({"users": s.service.users(&p).await?})))
}

async fn add_user(State(s): State<AppState>, Auth(p): Auth, Body(b): Body<NewUser>) -> Result<Response> {
    let (user, token) = s.service.add_user(&p, b).await?;
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({"user": user, "token": token}))).into_response())
}

async fn revoke_user(State(s): State<AppState>, Auth(p): Auth, Path(name): Path<String>) -> Result<Response> {
    s.service.revoke_user(&p, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn audit(State(s): State<AppState>, Auth(p): Auth, Params(q): Params<LimitQuery>) -> Result<Response> {
    Ok(json(serde_json::json!({"entries": s.service.audit_log(&p, q.limit.unwrap_or(100)).await?})))
}

macro_rules! endpoint {
    ($method:literal, $path:literal, $summary:literal, $roles:literal, auth = $auth:literal, query = $query:expr, body = $body:expr, ok = $ok:literal, media = $media:literal, response = $response:literal) => {
        Endpoint { method: $method, path: $path, summary: $summary, roles: $roles, auth: $auth, query: $query, body: $body, ok: $ok, media: $media, response: $response }
    };
}

/// Every route with its description, in the order the document lists them.
pub fn endpoints() -> Vec<(Endpoint, MethodRouter<AppState>)> {
    vec![
        (endpoint!("GET", "/healthz", "Liveness and store reachability", "anyone", auth = false, query = &[], body = None, ok = 200, media = "application/json", response = "Health"), get(healthz)),
        (endpoint!("GET", "/metrics", "Prometheus metrics", "any signed-in user", auth = true, query = &[], body = None, ok = 200, media = "text/plain", response = "Text"), get(metrics)),
        (endpoint!("GET", "/api/openapi.json", "This document", "anyone", auth = false, query = &[], body = None, ok = 200, media = "application/json", response = "Object"), get(openapi_doc)),
        (endpoint!("GET", "/api/me", "The signed-in user", "any signed-in user", auth = true, query = &[], body = None, ok = 200, media = "application/json", response = "Me"), get(me)),
        (endpoint!("GET", "/api/labels", "Dispute types, risk levels, statuses, tiers and channels with their names", "any signed-in user", auth = true, query = &[], body = None, ok = 200, media = "application/json", response = "Object"), get(labels)),
        (endpoint!("POST", "/api/triage", "Triage a complaint: type, risk with reasons, related cases, tier and mediator; nothing is stored", "operator, supervisor, admin", auth = true, query = &[], body = Some("TriageRequest"), ok = 200, media = "application/json", response = "Triage"), post(triage)),
        (endpoint!("POST", "/api/cases", "Create a case from a complaint with the confirmed or corrected labels; stored before the reply", "operator, supervisor, admin", auth = true, query = &[], body = Some("CreateCase"), ok = 201, media = "application/json", response = "CreatedCase"), post(create_case)),
        (endpoint!("GET", "/api/cases/{id}", "A case with its timeline and related cases", "all roles, within their region (mediators: own cases)", auth = true, query = &[("unmask", "boolean", "show phone and ID numbers in full (audited; supervisors, mediators, admins)")], body = None, ok = 200, media = "application/json", response = "CaseDetail"), get(get_case)),
        (endpoint!("POST", "/api/cases/{id}/outcome", "Record how a mediation ended (written or oral agreement, failed, escalated); the case moves to resolved, failed or escalated", "mediator (own cases), supervisor, admin", auth = true, query = &[], body = Some("Outcome"), ok = 200, media = "application/json", response = "CaseEnvelope"), post(outcome)),
        (endpoint!("POST", "/api/cases/{id}/follow-up", "Record the follow-up call: the parties' satisfaction (1-5) and whether the dispute turned criminal (民转刑)", "mediator (own cases), supervisor, admin", auth = true, query = &[], body = Some("FollowUp"), ok = 200, media = "application/json", response = "CaseEnvelope"), post(follow_up)),
        (endpoint!("POST", "/api/cases/{id}/transition", "Move a case to an allowed next status", "mediator (own cases), supervisor, admin", auth = true, query = &[], body = Some("Transition"), ok = 200, media = "application/json", response = "CaseEnvelope"), post(transition)),
        (endpoint!("POST", "/api/cases/{id}/labels", "Confirm or correct a case's type and risk", "operator, supervisor, admin", auth = true, query = &[], body = Some("Labels"), ok = 200, media = "application/json", response = "CaseEnvelope"), post(label_case)),
        (endpoint!("POST", "/api/cases/{id}/assign", "Give a case to another mediator", "supervisor, admin", auth = true, query = &[], body = Some("Assign"), ok = 200, media = "application/json", response = "CaseEnvelope"), post(assign)),
        (endpoint!("POST", "/api/cases/{id}/notes", "Add a progress note", "operator, mediator (own cases), supervisor, admin", auth = true, query = &[], body = Some("Note"), ok = 200, media = "application/json", response = "CaseEnvelope"), post(note)),
        (endpoint!("GET", "/api/search", "Full-text search with filters, facet counts and highlighted snippets", "supervisor, admin (within their region)", auth = true, query = SEARCH_QUERY, body = None, ok = 200, media = "application/json", response = "SearchResult"), get(search)),
        (endpoint!("GET", "/api/search/export", "Every case matching the filters as CSV (UTF-8 with BOM)", "supervisor, admin (within their region)", auth = true, query = SEARCH_QUERY, body = None, ok = 200, media = "text/csv", response = "Text"), get(export)),
        (endpoint!("GET", "/api/queue", "A mediator's open cases, soonest due first", "mediator (own), supervisor and admin (with ?mediator=)", auth = true, query = &[("mediator", "string", "mediator id (supervisors and admins)")], body = None, ok = 200, media = "application/json", response = "CaseList"), get(queue)),
        (endpoint!("GET", "/api/overdue", "Open cases past their due time", "supervisor, admin", auth = true, query = &[], body = None, ok = 200, media = "application/json", response = "CaseList"), get(overdue)),
        (endpoint!("GET", "/api/dashboard", "Counts by type and risk per day, open cases by region and type, high-risk and overdue cases, alerts", "supervisor, admin", auth = true, query = &[("days", "integer", "days to cover, 1-366 (default 30)")], body = None, ok = 200, media = "application/json", response = "Dashboard"), get(dashboard)),
        (endpoint!("GET", "/api/alerts", "Hotspot alerts from the nightly batch (kind cell, topic or caller), in the user's region", "supervisor, admin", auth = true, query = &[("day", "string", "YYYY-MM-DD (default: every day, newest first)")], body = None, ok = 200, media = "application/json", response = "Alerts"), get(alerts)),
        (endpoint!("GET", "/api/hotspots/report", "The nightly hotspot report as a self-contained HTML page (a chart per alert, topics, repeat callers), for the user's region", "supervisor, admin", auth = true, query = &[("day", "string", "YYYY-MM-DD (default: the latest run)")], body = None, ok = 200, media = "text/html", response = "Text"), get(hotspot_report)),
        (endpoint!("GET", "/api/mediators", "The roster with open cases per mediator", "operator, supervisor, admin", auth = true, query = &[], body = None, ok = 200, media = "application/json", response = "Mediators"), get(mediators)),
        (endpoint!("GET", "/api/mediators/evaluation", "Each mediator's figures for a period and the suggested star grade with its reasons (config/stars.toml)", "admin", auth = true, query = &[("period", "string", "2026Q3, 2026-07 or 2026")], body = None, ok = 200, media = "application/json", response = "Evaluation"), get(star_evaluation)),
        (endpoint!("GET", "/api/mediators/stars", "Star decisions on record (who, when, why), newest first", "operator, supervisor, admin", auth = true, query = &[("mediator", "string", "one mediator's id (default: all)")], body = None, ok = 200, media = "application/json", response = "StarHistory"), get(star_history)),
        (endpoint!("POST", "/api/mediators/{id}/stars", "Confirm (routing uses it at once) or reject a suggested star grade", "admin", auth = true, query = &[], body = Some("StarDecision"), ok = 200, media = "application/json", response = "StarHistory"), post(decide_stars)),
        (endpoint!("GET", "/api/subsidies", "Subsidies (以奖代补) per agreed case by star grade and difficulty, per mediator, township and county", "admin", auth = true, query = &[("period", "string", "2026Q3, 2026-07 or 2026"), ("format", "string", "json (default), csv (opens in Excel) or html")], body = None, ok = 200, media = "application/json", response = "Subsidies"), get(subsidies)),
        (endpoint!("PUT", "/api/mediators/{id}", "Add or replace a mediator", "admin", auth = true, query = &[], body = Some("MediatorInput"), ok = 200, media = "application/json", response = "MediatorEnvelope"), put(put_mediator)),
        (endpoint!("DELETE", "/api/mediators/{id}", "Remove a mediator from the roster", "admin", auth = true, query = &[], body = None, ok = 204, media = "application/json", response = "Empty"), delete(delete_mediator)),
        (endpoint!("GET", "/api/routing-rules", "The routing rules in force (TOML)", "admin", auth = true, query = &[], body = None, ok = 200, media = "application/json", response = "Rules"), get(get_rules)),
        (endpoint!("PUT", "/api/routing-rules", "Replace the routing rules (checked, stored, used at once)", "admin", auth = true, query = &[], body = Some("Rules"), ok = 200, media = "application/json", response = "Rules"), put(put_rules)),
        (endpoint!("GET", "/api/users", "All users", "admin", auth = true, query = &[], body = None, ok = 200, media = "application/json", response = "Users"), get(users)),
        (endpoint!("POST", "/api/users", "Add a user; the reply holds their token, shown only this once", "admin", auth = true, query = &[], body = Some("NewUser"), ok = 201, media = "application/json", response = "NewUserReply"), post(add_user)),
        (endpoint!("DELETE", "/api/users/{name}", "Revoke a user's token", "admin", auth = true, query = &[], body = None, ok = 204, media = "application/json", response = "Empty"), delete(revoke_user)),
        (endpoint!("GET", "/api/audit", "The latest audit-log entries (changes and unmasked views)", "admin", auth = true, query = &[("limit", "integer", "entries, 1-1000 (default 100)")], body = None, ok = 200, media = "application/json", response = "Audit"), get(audit)),
    ]
}
