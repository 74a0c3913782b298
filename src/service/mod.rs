//! The service engine behind the HTTP API and the web pages: every operation a signed-in user
//! can ask for, with the role, region and masking rules of [`crate::access`] applied, over the
//! triage pipeline, the case store and the search index. It knows nothing of HTTP: `http` turns
//! requests into these calls and [`ServiceError`]s into status codes.
//!
//! Concurrency: triage runs on the blocking pool under a read lock of the pipeline; routing a new
//! case and recording its assignment take the write lock briefly. The search index has one
//! owner, the indexer task, which follows the store's change log; request handlers search
//! through a [`SearchView`] that sees each commit, so nothing waits on indexing.

pub mod night;
pub mod rating;
mod sla;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Notify};

use crate::access::{Action, Principal, Role};
use crate::hotspot;
use crate::labels::{RiskLevel, Tier};
use crate::risk::RiskReason;
use crate::routing::{Mediator, RegionPath, RoutingRules};
use crate::search::{SearchError, SearchIndex, SearchRequest, SearchResult, SearchView, SortBy};
use crate::store::{Alert, AuditEntry, Case, CaseStore, Created, Event, NewCase, Status, StoreError, User};
use crate::triage::{Pipeline, RelatedCase, Triage, TriageError, TriageRequest};

pub use sla::{Sla, SlaError};
pub use view::{CaseView, mask_snippet};

/// The key under which administrator-edited routing rules are stored.
pub const ROUTING_SETTING: &str = "routing.toml";

/// How long a checked token is trusted without asking the store again: a token revoked by
/// another replica (or by `fengqiao users revoke`) stops working within this time.
pub const TOKEN_CACHE_SECONDS: u64 = 10;

/// The most rows one CSV export may hold.
pub const MAX_EXPORT: usize = 200_000;

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Why a request was refused or failed. `code()` is stable and is what clients match on.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No token, or one the store does not know.
    #[error("{0}")]
    Unauthenticated(String),
    /// The token was valid once but has expired or been revoked.
    #[error("{0}")]
    TokenExpired(String),
    /// The role or region does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// No such case, mediator or user (or not one this user may see).
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but its values are not acceptable.
    #[error("{message}")]
    Invalid {
        /// Stable code, e.g. `invalid_text`, `unknown_label`.
        code: &'static str,
        /// What was wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The case is not in a state that allows this (a lifecycle step out of order, a name taken).
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What was wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// Something broke on our side; the details go to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Unauthenticated(_) => "unauthenticated",
            ServiceError::TokenExpired(_) => "token_expired",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Invalid { code, .. } | ServiceError::Conflict { code, .. } => code,
            ServiceError::Internal(_) => "internal",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            ServiceError::Unauthenticated(_) => "send `Authorization: Bearer <token>`; an administrator issues tokens with `fengqiao users add`".into(),
            ServiceError::TokenExpired(_) => "ask an administrator for a new token".into(),
            ServiceError::Forbidden(_) => "sign in as a user whose role and region allow this".into(),
            ServiceError::NotFound(_) => "check the id".into(),
            ServiceError::Invalid { hint, .. } | ServiceError::Conflict { hint, .. } => hint.clone(),
            ServiceError::Internal(_) => "try again; if it persists, the server log has the details".into(),
        }
    }

    /// A user error in the input, with a stable code and a hint (for the HTTP layer's own checks).
    pub fn invalid_input(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> ServiceError {
        ServiceError::invalid(code, message, hint)
    }

    fn invalid(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> ServiceError {
        ServiceError::Invalid { code, message: message.into(), hint: hint.into() }
    }

    fn forbidden(p: &Principal, what: &str) -> ServiceError {
        ServiceError::Forbidden(format!("the {} role may not {what}", p.role))
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => ServiceError::NotFound(format!("case {id} does not exist")),
            StoreError::Transition { .. } => ServiceError::Conflict { code: "invalid_transition", message: e.to_string(), hint: "move the case through its allowed next steps".into() },
            StoreError::Exists(_) => ServiceError::Conflict { code: "exists", message: e.to_string(), hint: "choose another name".into() },
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<SearchError> for ServiceError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Filter(m) => ServiceError::invalid("invalid_filter", m, "fix the query or filters"),
            SearchError::Store(s) => s.into(),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<TriageError> for ServiceError {
    fn from(e: TriageError) -> Self {
        match e {
            TriageError::Model(m) => ServiceError::Internal(m.to_string()),
            TriageError::Text(t) => ServiceError::invalid("invalid_text", t.to_string(), "paste the complaint as plain Chinese text, at most 20,000 characters"),
            TriageError::Region(r) => ServiceError::invalid("invalid_region", r.to_string(), "give a region path such as 浙江省/绍兴市/诸暨市/枫桥镇/枫源村"),
            TriageError::Phone(p) => ServiceError::invalid("invalid_phone", format!("caller phone `{p}` is not a phone number"), "give 7 to 15 digits"),
        }
    }
}

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// A new case from the desk: the complaint as triaged, and the labels the operator confirmed or
/// corrected.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    /// The complaint.
    pub text: String,
    /// Region path.
    #[serde(default)]
    pub region: Option<String>,
    /// Caller's phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Address of the dispute.
    #[serde(default)]
    pub address: Option<String>,
    /// Caller's name.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// hotline (default), web, wechat, walk_in, grid.
    #[serde(default)]
    pub channel: Option<String>,
    /// The confirmed or corrected type (the prediction if absent).
    #[serde(default, rename = "type")]
    pub dispute_type: Option<String>,
    /// The confirmed or corrected risk (the prediction if absent).
    #[serde(default)]
    pub risk: Option<String>,
    /// Id in another system; creating the same id twice stores one case.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Further regions the dispute spans (跨区域): routed at the regions' common ancestor, the
    /// mediators of each region told in the timeline, found under each region in search.
    #[serde(default)]
    pub other_regions: Vec<String>,
}

/// The channels a case can come in by.
pub const CHANNELS: [&str; 6] = ["hotline", "web", "wechat", "walk_in", "grid", "import"];

/// Search parameters as the API and pages send them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words.
    #[serde(default)]
    pub q: Option<String>,
    /// Region subtree.
    #[serde(default)]
    pub region: Option<String>,
    /// Type code.
    #[serde(default, rename = "type")]
    pub dispute_type: Option<String>,
    /// Risk code.
    #[serde(default)]
    pub risk: Option<String>,
    /// Status code.
    #[serde(default)]
    pub status: Option<String>,
    /// Tier code.
    #[serde(default)]
    pub tier: Option<String>,
    /// Mediator id.
    #[serde(default)]
    pub mediator: Option<String>,
    /// From (YYYY-MM-DD or RFC 3339), inclusive.
    #[serde(default)]
    pub from: Option<String>,
    /// To (YYYY-MM-DD or RFC 3339), exclusive.
    #[serde(default)]
    pub to: Option<String>,
    /// relevance, time or risk.
    #[serde(default)]
    pub sort: Option<String>,
    /// Page size (1–100, default 20).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Hits to skip.
    #[serde(default)]
    pub offset: Option<usize>,
}

/// A case with its timeline and related cases.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    /// The case.
    pub case: CaseView,
    /// Its timeline, oldest first.
    pub events: Vec<Event>,
    /// Earlier cases from the same phone or address, and near-duplicates in its region.
    pub related: Vec<RelatedCase>,
}

/// A mediator with their live workload.
#[derive(Debug, Clone, Serialize)]
pub struct MediatorView {
    /// The roster entry.
    #[serde(flatten)]
    pub mediator: Mediator,
}

/// A mediator as an administrator edits it (the id comes from the path).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediatorInput {
    /// Name.
    pub name: String,
    /// Stars, 1–5.
    pub stars: u8,
    /// Tier code.
    pub tier: String,
    /// Region path.
    pub region: String,
    /// Dispute types (and specialties) handled; empty means all.
    #[serde(default)]
    pub specialties: Vec<String>,
    /// Open cases the mediator can hold.
    pub capacity: u32,
}

/// A user to add.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Unique name.
    pub name: String,
    /// operator, supervisor, mediator or admin.
    pub role: String,
    /// Region subtree.
    #[serde(default)]
    pub region: Option<String>,
    /// Roster id (mediators).
    #[serde(default)]
    pub mediator_id: Option<String>,
    /// Days until the token expires (default 365).
    #[serde(default)]
    pub days: Option<i64>,
}

/// The dashboard's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// Local days covered, oldest first.
    pub days: Vec<String>,
    /// Cases received per day, by type.
    pub by_type: BTreeMap<String, Vec<i64>>,
    /// Cases received per day, by risk.
    pub by_risk: BTreeMap<String, Vec<i64>>,
    /// Open cases by region (one level below the user's scope) and type.
    pub region_type: RegionTypeTable,
    /// Open red and orange cases, soonest due first.
    pub open_high: Vec<CaseView>,
    /// Overdue cases.
    pub overdue: Vec<CaseView>,
    /// Latest hotspot alerts.
    pub alerts: Vec<Alert>,
}

/// Open cases by region × type.
#[derive(Debug, Clone, Serialize)]
pub struct RegionTypeTable {
    /// Row labels.
    pub regions: Vec<String>,
    /// Column labels (type codes).
    pub types: Vec<String>,
    /// `open[row][column]`.
    pub open: Vec<Vec<i64>>,
}

/// A case waiting for the writer, with who created it and where to send the outcome.
type PendingCase = (NewCase, String, tokio::sync::oneshot::Sender<Result<Created, String>>);

/// Everything the service holds.
pub struct Service {
    /// Cases created through the API go to one writer task, which stores whatever has queued
    /// up in one transaction: concurrent desks share a disk flush instead of queueing for one
    /// each (SQLite has one writer at a time).
    writer: tokio::sync::mpsc::Sender<PendingCase>,
    /// Recently checked tokens (by hash), so a busy desk does not ask the store on every call.
    /// Entries live [`TOKEN_CACHE_SECONDS`]; revoking through this service clears them at once.
    tokens: std::sync::Mutex<HashMap<String, (Principal, Option<DateTime<Utc>>, std::time::Instant)>>,
    pipeline: RwLock<Pipeline>,
    store: CaseStore,
    search: SearchView,
    index: Mutex<SearchIndex>,
    index_wanted: Notify,
    sla: Sla,
    star_rules: crate::rating::StarRules,
}

/// A case built from a triage result. The stored text is the complaint as submitted; personal
/// data in it is masked when a case is shown to a role that may not see it.
pub fn new_case(t: &Triage, text: &str, external_id: Option<String>, received_at: DateTime<Utc>, channel: &str, caller_name: Option<&str>) -> NewCase {
    let a = &t.assessment;
    NewCase {
        external_id,
        received_at,
        channel: channel.to_string(),
        caller_name: caller_name.map(str::to_string),
        caller_phone: a.caller_phone.clone(),
        region: a.region.clone(),
        address: a.address.clone(),
        text: text.to_string(),
        predicted_type: a.dispute_type.label.clone(),
        predicted_type_prob: a.dispute_type.probability as f64,
        predicted_risk: a.risk.level,
        risk_probs: RiskLevel::ALL.map(|l| a.risk.probabilities[&l]),
        reasons: a.risk.reasons.iter().map(|r| r.text.clone()).collect(),
        confirmed_type: None,
        confirmed_risk: None,
        model_version: crate::model::FORMAT.to_string(),
        tier: t.routing.tier,
        mediator_id: t.routing.mediator.as_ref().map(|m| m.id.clone()),
        due_at: None,
        other_regions: a.other_regions.clone(),
    }
}

impl Service {
    /// Puts the service together: loads the stored roster (storing the configured one if the
    /// store has none) with live loads, applies stored routing rules, and brings the index up
    /// to date with the store.
    pub async fn new(mut pipeline: Pipeline, store: CaseStore, mut index: SearchIndex, sla: Sla) -> Result<Service> {
        let fail = |what: &str, e: &dyn std::fmt::Display| ServiceError::Internal(format!("{what}: {e}"));
        let mut roster = store.roster().await.map_err(|e| fail("reading the roster", &e))?;
        if roster.mediators().is_empty() {
            store.import_roster(pipeline.roster(), "system").await.map_err(|e| fail("storing the configured roster", &e))?;
            roster = pipeline.roster().clone();
        }
        roster.set_loads(&store.open_loads().await.map_err(|e| fail("counting open cases", &e))?);
        pipeline.set_roster(roster);
        if let Some(rules) = store.setting(ROUTING_SETTING).await.map_err(|e| fail("reading stored routing rules", &e))? {
            pipeline.set_routing_rules(RoutingRules::from_toml(&rules).map_err(|e| fail("the stored routing rules", &e))?);
        }
        index.sync(&store).await.map_err(|e| fail("bringing the search index up to date", &e))?;
        let (writer, queue) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(write_cases(store.clone(), queue));
        Ok(Service { writer, tokens: Default::default(), pipeline: RwLock::new(pipeline), search: index.view(), index: Mutex::new(index), store, index_wanted: Notify::new(), sla, star_rules: crate::rating::StarRules::shipped() })
    }

    /// The store (for the CLI and tests).
    pub fn store(&self) -> &CaseStore {
        &self.store
    }

    /// The service levels.
    pub fn sla(&self) -> &Sla {
        &self.sla
    }

    fn pipeline(&self) -> std::sync::RwLockReadGuard<'_, Pipeline> {
        self.pipeline.read().unwrap_or_else(|e| e.into_inner())
    }

    fn pipeline_mut(&self) -> std::sync::RwLockWriteGuard<'_, Pipeline> {
        self.pipeline.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies store changes to the index and commits them; returns the cases indexed.
    pub async fn sync_index(&self) -> Result<usize> {
        let mut index = self.index.lock().await;
        let n = index.sync(&self.store).await?;
        Ok(n)
    }

    /// The indexer: keeps the index within about a second of the store, waking on every write
    /// this process makes and once a second for writes by other replicas. Runs until `stop`.
    pub async fn run_indexer(self: Arc<Self>, stop: Stop) {
        loop {
            tokio::select! {
                _ = self.index_wanted.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait() => break,
            }
            if let Err(e) = self.sync_index().await {
                tracing::error!(error = %e, "indexing failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            // At most about four commits a second: each one writes a segment that merges
            // later, and under a stream of writes back-to-back commits cost more CPU than the
            // indexing itself. Writes made meanwhile wake the next round.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if let Err(e) = self.sync_index().await {
            tracing::error!(error = %e, "final index commit failed; the next start catches up");
        }
    }

    /// The overdue sweep: marks cases past their due time, every `sla.sweep_seconds`, until
    /// `stop`; also refreshes mediators' loads from the store (other replicas assign too).
    pub async fn run_sweeper(self: Arc<Self>, stop: Stop) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(self.sla.sweep_seconds.max(1))) => {}
                _ = stop.wait() => break,
            }
            match self.sweep(Utc::now()).await {
                Ok(n) if n > 0 => tracing::info!(cases = n, "marked overdue"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "overdue sweep failed"),
            }
            if let Err(e) = self.refresh_loads().await {
                tracing::error!(error = %e, "refreshing loads failed");
            }
        }
    }

    /// Marks cases whose due time is before `now` as overdue; returns how many.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<usize> {
        let marked = self.store.mark_overdue(now, "system").await?;
        if !marked.is_empty() {
            self.index_wanted.notify_one();
        }
        Ok(marked.len())
    }

    /// Refreshes loads after a change that is already committed: a failure here must not turn
    /// the stored change into an error reply (a retry would then be refused), so it is logged.
    async fn refresh_loads_logged(&self) {
        if let Err(e) = self.refresh_loads().await {
            tracing::error!(error = %e, "refreshing mediators' loads failed; the next sweep retries");
        }
    }

    async fn refresh_loads(&self) -> Result<()> {
        let loads = self.store.open_loads().await?;
        self.pipeline_mut().roster_mut().set_loads(&loads);
        Ok(())
    }

    /// Who holds this token: unknown tokens are `Unauthenticated`, expired or revoked ones
    /// `TokenExpired`.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let token = token.trim();
        if token.is_empty() {
            return Err(ServiceError::Unauthenticated("no token was sent".into()));
        }
        let hash = crate::access::token_hash(token);
        let cached = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(&hash).cloned();
        if let Some((p, expires, at)) = cached {
            if at.elapsed() < Duration::from_secs(TOKEN_CACHE_SECONDS) && expires.is_none_or(|t| t > Utc::now()) {
                return Ok(p);
            }
        }
        let user = self.store.user_by_token(&hash).await?;
        let Some(user) = user else { return Err(ServiceError::Unauthenticated("the token is not valid".into())) };
        if user.revoked {
            return Err(ServiceError::TokenExpired(format!("the token of `{}` has been revoked", user.name)));
        }
        if user.expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(ServiceError::TokenExpired(format!("the token of `{}` expired", user.name)));
        }
        let region = user.region.as_deref().map(RegionPath::parse).transpose().map_err(|e| ServiceError::Internal(format!("stored region of {}: {e}", user.name)))?;
        let p = Principal { name: user.name, role: user.role, region, mediator_id: user.mediator_id };
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(hash, (p.clone(), user.expires_at, std::time::Instant::now()));
        Ok(p)
    }

    fn require(&self, p: &Principal, action: Action, what: &str) -> Result<()> {
        if p.may(action) { Ok(()) } else { Err(ServiceError::forbidden(p, what)) }
    }

    /// Reads a case this user may see; cases outside their reach are "not found", so their
    /// existence does not leak.
    async fn reachable_case(&self, p: &Principal, id: i64) -> Result<Case> {
        let c = self.store.case(id).await?;
        let in_any = std::iter::once(c.fields.region.as_deref()).chain(c.fields.other_regions.iter().map(|r| Some(r.as_str()))).any(|r| p.reaches(r, c.fields.mediator_id.as_deref()));
        if !in_any {
            return Err(ServiceError::NotFound(format!("case {id} does not exist")));
        }
        Ok(c)
    }

    fn view(&self, c: &Case, unmasked: bool) -> CaseView {
        let pipeline = self.pipeline();
        let mediator_name = c.fields.mediator_id.as_ref().and_then(|id| pipeline.roster().mediators().iter().find(|m| &m.id == id)).map(|m| m.name.clone());
        CaseView::new(c, mediator_name, unmasked, Utc::now())
    }

    fn views(&self, cases: &[Case]) -> Vec<CaseView> {
        cases.iter().map(|c| self.view(c, false)).collect()
    }

    /// Fills in the region an operator works in when the request names none, and refuses one
    /// outside their scope.
    fn scoped_request(&self, p: &Principal, mut req: TriageRequest) -> Result<TriageRequest> {
        match (&p.region, req.region.as_deref().map(str::trim).filter(|r| !r.is_empty())) {
            (Some(scope), None) => req.region = Some(scope.to_string()),
            (Some(_), Some(r)) => {
                if !p.reaches(Some(r), None) && p.role != Role::Mediator {
                    return Err(ServiceError::Forbidden(format!("region `{r}` is outside your region")));
                }
            }
            _ => {}
        }
        Ok(req)
    }

    /// Triage with the case history applied (runs the pipeline on the blocking pool).
    async fn assess(self: &Arc<Self>, p: &Principal, req: TriageRequest) -> Result<crate::triage::Assessment> {
        let pipeline_owner = self.clone();
        let mut a = tokio::task::spawn_blocking(move || pipeline_owner.pipeline().assess(&req))
            .await
            .map_err(|e| ServiceError::Internal(format!("triage task: {e}")))??;
        let h = self.history(a.caller_phone.as_deref(), a.address.as_deref(), a.region.as_deref(), &a.normalized, Utc::now()).await?;
        self.pipeline().apply_history(&mut a, &h);
        // Earlier calls elsewhere still count toward the risk (a stated reason), but only cases
        // within the user's reach are listed: triage must not become a lookup by phone number.
        a.related.retain(|r| self.related_reachable(p, r.id, &h));
        Ok(a)
    }

    /// The case history of a complaint: same phone and open cases at the same address from the
    /// store, near-duplicates in its region over the last 30 days from the search index's
    /// candidates (the 20 most alike by distinctive words, then the similarity threshold).
    async fn history(&self, phone: Option<&str>, address: Option<&str>, region: Option<&str>, normalized: &str, now: DateTime<Utc>) -> Result<crate::store::History> {
        let mut h = self.store.history(phone, address, None, normalized, now).await?;
        if let Some(region) = region.map(str::trim).filter(|r| !r.is_empty()) {
            let (view, text, region) = (self.search.clone(), normalized.to_string(), region.to_string());
            let since = now - chrono::Duration::days(30);
            let candidates = tokio::task::spawn_blocking(move || {
                view.similar_candidates(&text, &region, since, 20).map(|c| {
                    c.into_iter().filter(|(_, t)| crate::text::similarity(&crate::text::normalize(t), &text) >= crate::text::NEAR_DUPLICATE).map(|(id, _)| id).collect::<Vec<_>>()
                })
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("history task: {e}")))??;
            let mut similar = self.store.cases_by_ids(&candidates).await?;
            similar.sort_by(|a, b| b.fields.received_at.cmp(&a.fields.received_at));
            h.similar = similar;
        }
        Ok(h)
    }

    /// Triages a complaint: type, risk with reasons, related cases, tier and mediator. Nothing
    /// is stored.
    pub async fn triage(self: &Arc<Self>, p: &Principal, req: TriageRequest) -> Result<Triage> {
        self.require(p, Action::Triage, "triage complaints")?;
        let req = self.scoped_request(p, req)?;
        let a = self.assess(p, req).await?;
        Ok(self.pipeline().route(a))
    }

    /// Creates a case: triages the text again (the server never trusts a client's scores),
    /// applies the operator's confirmation or correction, routes it with that, assigns the
    /// mediator, sets the due time, and stores it. Returns only after the case is committed.
    pub async fn create_case(self: &Arc<Self>, p: &Principal, input: CreateCase) -> Result<(CaseView, Triage)> {
        self.require(p, Action::CreateCase, "create cases")?;
        let channel = input.channel.clone().unwrap_or_else(|| "hotline".into());
        if !CHANNELS.contains(&channel.as_str()) {
            return Err(ServiceError::invalid("unknown_label", format!("channel `{channel}` is not known"), format!("use one of {}", CHANNELS.join(", "))));
        }
        let confirmed_type = match input.dispute_type.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) if !self.pipeline().type_labels().iter().any(|l| l == t) => {
                return Err(ServiceError::invalid("unknown_label", format!("type `{t}` is not a known dispute type"), format!("use one of {}", self.pipeline().type_labels().join(", "))));
            }
            other => other.map(str::to_string),
        };
        let confirmed_risk = input
            .risk
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| r.parse::<RiskLevel>().map_err(|e| ServiceError::invalid("unknown_label", e.to_string(), "use blue, yellow, orange or red")))
            .transpose()?;
        let text = input.text.clone();
        let req = self.scoped_request(p, TriageRequest { text: input.text, region: input.region, phone: input.phone, address: input.address, other_regions: input.other_regions })?;
        let mut a = self.assess(p, req).await?;
        let (model_type, model_risk) = (a.dispute_type.label.clone(), a.risk.level);
        // The operator's call routes the case: a correction to red must reach the emergency tier.
        if let Some(t) = &confirmed_type {
            if *t != a.dispute_type.label {
                a.dispute_type.label = t.clone();
                a.dispute_type.name = crate::triage::type_name(t).to_string();
            }
        }
        if let Some(r) = confirmed_risk {
            if r != a.risk.level {
                a.risk.reasons.insert(0, RiskReason { source: "operator", level: r, text: format!("接线员将风险由{}改为{}", a.risk.level.chinese(), r.chinese()) });
                a.risk.level = r;
                a.risk.name = r.chinese().to_string();
            }
        }
        let received = Utc::now();
        let triage = {
            let mut pipeline = self.pipeline_mut();
            let t = pipeline.route(a);
            pipeline.commit_assignment(&t);
            t
        };
        let mut case = new_case(&triage, &text, input.external_id.filter(|e| !e.trim().is_empty()), received, &channel, input.caller_name.as_deref().map(str::trim).filter(|n| !n.is_empty()));
        // Predictions stay as the model (with cues and history) made them; the operator's
        // labels are the confirmation or correction.
        case.predicted_type = model_type;
        case.predicted_risk = model_risk;
        case.confirmed_type = confirmed_type;
        case.confirmed_risk = confirmed_risk;
        case.due_at = Some(self.sla.due(triage.assessment.risk.level, received));
        let (reply, outcome) = tokio::sync::oneshot::channel();
        self.writer.send((case, p.name.clone(), reply)).await.map_err(|_| ServiceError::Internal("the case writer has stopped".into()))?;
        let created = match outcome.await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                // The assignment was counted in memory; put the loads back as the store has them.
                self.refresh_loads_logged().await;
                return Err(ServiceError::Internal(e));
            }
            Err(_) => return Err(ServiceError::Internal("the case writer dropped the case".into())),
        };
        let id = created.id();
        if matches!(created, Created::Existing(_)) {
            self.refresh_loads_logged().await;
            let existing = self.store.case(id).await?;
            if !p.reaches(existing.fields.region.as_deref(), existing.fields.mediator_id.as_deref()) {
                return Err(ServiceError::Conflict {
                    code: "exists",
                    message: "a case with this external id already exists".into(),
                    hint: "use another external id, or leave it out".into(),
                });
            }
        }
        if matches!(created, Created::New(_)) && !triage.assessment.other_regions.is_empty() {
            // Each region's own mediators are told in the timeline (跨区域协同化解).
            let roster = self.pipeline().roster().mediators().to_vec();
            let mut regions = vec![triage.assessment.region.clone().unwrap_or_default()];
            regions.extend(triage.assessment.other_regions.iter().cloned());
            let notified: Vec<serde_json::Value> = regions
                .iter()
                .map(|r| {
                    let path = RegionPath::parse(r).ok();
                    let here: Vec<String> = roster.iter().filter(|m| path.as_ref().is_some_and(|p| m.region.contains(p)) && m.tier <= Tier::Township).map(|m| format!("{}（{}）", m.name, m.id)).collect();
                    serde_json::json!({"region": r, "mediators": here})
                })
                .collect();
            self.store.add_event(id, "cross_region", &serde_json::json!({"coordinated_by": triage.routing.tier, "regions": notified}), &p.name).await?;
        }
        self.index_wanted.notify_one();
        let stored = self.store.case(id).await?;
        Ok((self.view(&stored, false), triage))
    }

    /// A case with its timeline and related cases. `unmask` shows phone and ID numbers in full
    /// to roles allowed to see them, and is recorded in the audit log.
    pub async fn case(&self, p: &Principal, id: i64, unmask: bool) -> Result<CaseDetail> {
        self.require(p, Action::ReadCase, "read cases")?;
        let c = self.reachable_case(p, id).await?;
        if unmask {
            self.require(p, Action::Unmask, "see phone and ID numbers in full")?;
            self.store.audit(&p.name, "view_unmasked", Some(id), &serde_json::json!({"role": p.role})).await?;
        }
        let mut events = self.store.events(id).await?;
        if !unmask {
            for e in &mut events {
                mask_json(&mut e.detail);
            }
        }
        let normalized = crate::text::normalize(&c.fields.text);
        let h = self.history(c.fields.caller_phone.as_deref(), c.fields.address.as_deref(), c.fields.region.as_deref(), &normalized, c.fields.received_at).await?;
        let related = crate::triage::related_cases(&h).into_iter().filter(|r| r.id != id && self.related_reachable(p, r.id, &h)).collect();
        Ok(CaseDetail { case: self.view(&c, unmask), events, related })
    }

    fn related_reachable(&self, p: &Principal, id: i64, h: &crate::store::History) -> bool {
        h.same_phone.iter().chain(&h.same_address).chain(&h.similar).find(|c| c.id == id).is_some_and(|c| p.reaches(c.fields.region.as_deref(), c.fields.mediator_id.as_deref()))
    }

    /// Moves a case through its lifecycle.
    pub async fn transition(&self, p: &Principal, id: i64, to: &str, note: Option<&str>) -> Result<CaseView> {
        self.require(p, Action::Transition, "change a case's status")?;
        let to: Status = to.parse().map_err(|e: crate::labels::UnknownLabel| ServiceError::invalid("unknown_label", e.to_string(), "use a status the case lists in `next`"))?;
        let note = check_note(note)?;
        self.reachable_case(p, id).await?;
        let c = self.store.transition(id, to, &p.name, note).await?;
        self.refresh_loads_logged().await;
        self.index_wanted.notify_one();
        Ok(self.view(&c, false))
    }

    /// Confirms or corrects a case's type and/or risk.
    pub async fn label(&self, p: &Principal, id: i64, dispute_type: Option<&str>, risk: Option<&str>) -> Result<CaseView> {
        self.require(p, Action::Label, "confirm or correct labels")?;
        let dispute_type = dispute_type.map(str::trim).filter(|t| !t.is_empty());
        if let Some(t) = dispute_type {
            if !self.pipeline().type_labels().iter().any(|l| l == t) {
                return Err(ServiceError::invalid("unknown_label", format!("type `{t}` is not a known dispute type"), format!("use one of {}", self.pipeline().type_labels().join(", "))));
            }
        }
        let risk = risk.map(str::trim).filter(|r| !r.is_empty()).map(|r| r.parse::<RiskLevel>().map_err(|e| ServiceError::invalid("unknown_label", e.to_string(), "use blue, yellow, orange or red"))).transpose()?;
        if dispute_type.is_none() && risk.is_none() {
            return Err(ServiceError::invalid("empty_labels", "neither `type` nor `risk` was given", "send the type and/or risk to confirm"));
        }
        self.reachable_case(p, id).await?;
        let c = self.store.confirm(id, dispute_type, risk, &p.name).await?;
        self.index_wanted.notify_one();
        Ok(self.view(&c, false))
    }

    /// Gives a case to a mediator on the roster, with a due time counted from now.
    pub async fn assign(&self, p: &Principal, id: i64, mediator_id: &str, note: Option<&str>) -> Result<CaseView> {
        self.require(p, Action::Reassign, "reassign cases")?;
        let note = check_note(note)?;
        let c = self.reachable_case(p, id).await?;
        let region = self.pipeline().roster().mediators().iter().find(|m| m.id == mediator_id).map(|m| m.region.clone());
        let Some(region) = region else {
            return Err(ServiceError::invalid("unknown_mediator", format!("mediator `{mediator_id}` is not on the roster"), "choose a mediator from /api/mediators"));
        };
        // A supervisor may hand a case to mediators of their own area or of the levels above it
        // (escalation), never to another area's.
        if let Some(scope) = &p.region {
            if !(scope.contains(&region) || region.contains(scope)) {
                return Err(ServiceError::Forbidden(format!("mediator `{mediator_id}` works in {region}, outside your region")));
            }
        }
        let due = self.sla.due(c.effective_risk(), Utc::now());
        let c = self.store.assign(id, mediator_id, Some(due), &p.name, note).await?;
        self.refresh_loads_logged().await;
        self.index_wanted.notify_one();
        Ok(self.view(&c, false))
    }

    /// Adds a progress note.
    pub async fn note(&self, p: &Principal, id: i64, text: &str) -> Result<CaseView> {
        self.require(p, Action::Note, "add notes")?;
        let text = check_note(Some(text))?.ok_or_else(|| ServiceError::invalid("empty_note", "the note is empty", "write what happened"))?;
        self.reachable_case(p, id).await?;
        let c = self.store.add_note(id, text, &p.name).await?;
        Ok(self.view(&c, false))
    }

    fn search_request(&self, p: &Principal, params: &SearchParams) -> Result<SearchRequest> {
        let region = p.search_region(params.region.as_deref()).map_err(|scope| ServiceError::Forbidden(format!("that region is outside your region ({scope})")))?;
        let opt = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let time = |v: &Option<String>, what: &str| -> Result<Option<DateTime<Utc>>> {
            opt(v).map(|t| parse_time(&t).ok_or_else(|| ServiceError::invalid("invalid_filter", format!("`{what}` = `{t}` is not a date"), "use YYYY-MM-DD or RFC 3339"))).transpose()
        };
        let sort = match opt(&params.sort).as_deref() {
            None | Some("relevance") => SortBy::Relevance,
            Some("time") => SortBy::Time,
            Some("risk") => SortBy::Risk,
            Some(other) => return Err(ServiceError::invalid("invalid_filter", format!("sort `{other}` is not known"), "use relevance, time or risk")),
        };
        let dispute_type = opt(&params.dispute_type);
        if let Some(t) = &dispute_type {
            if !self.pipeline().type_labels().iter().any(|l| l == t) {
                return Err(ServiceError::invalid("unknown_label", format!("type `{t}` is not a known dispute type"), format!("use one of {}", self.pipeline().type_labels().join(", "))));
            }
        }
        Ok(SearchRequest {
            text: params.q.clone().unwrap_or_default(),
            region,
            dispute_type,
            risk: opt(&params.risk).map(|r| r.parse::<RiskLevel>().map_err(|e| ServiceError::invalid("unknown_label", e.to_string(), "use blue, yellow, orange or red"))).transpose()?,
            status: opt(&params.status).map(|s| s.parse::<Status>().map_err(|e| ServiceError::invalid("unknown_label", e.to_string(), "use a status code"))).transpose()?,
            tier: opt(&params.tier).map(|t| t.parse::<Tier>().map(|t| t.code().to_string()).map_err(|e| ServiceError::invalid("unknown_label", e.to_string(), "use village, township, county or emergency"))).transpose()?,
            mediator: opt(&params.mediator),
            from: time(&params.from, "from")?,
            to: time(&params.to, "to")?,
            sort,
            limit: params.limit.unwrap_or(20).clamp(1, 100),
            offset: params.offset.unwrap_or(0).min(10_000),
        })
    }

    /// Searches case history within the user's region; snippets are masked.
    pub async fn search(&self, p: &Principal, params: &SearchParams) -> Result<SearchResult> {
        self.require(p, Action::Search, "search case history")?;
        let req = self.search_request(p, params)?;
        let view = self.search.clone();
        let mut result = tokio::task::spawn_blocking(move || view.search(&req)).await.map_err(|e| ServiceError::Internal(format!("search task: {e}")))??;
        for h in &mut result.hits {
            h.snippet = mask_snippet(&h.snippet);
        }
        Ok(result)
    }

    /// Every case matching a search, as CSV (UTF-8 with a byte-order mark so Excel reads the
    /// Chinese), newest first; personal data masked. Recorded in the audit log.
    pub async fn export(&self, p: &Principal, params: &SearchParams) -> Result<Vec<u8>> {
        self.require(p, Action::Export, "export cases")?;
        let req = self.search_request(p, params)?;
        let view = self.search.clone();
        let ids = tokio::task::spawn_blocking(move || view.all_ids(&req, MAX_EXPORT)).await.map_err(|e| ServiceError::Internal(format!("export task: {e}")))??;
        let cases = self.store.cases_by_ids(&ids).await?;
        let mut out = Vec::from("\u{feff}".as_bytes());
        {
            let mut w = csv::Writer::from_writer(&mut out);
            let header = ["id", "received_at", "region", "type", "type_name", "risk", "status", "tier", "mediator_id", "due_at", "channel", "caller_phone", "address", "text"];
            w.write_record(header).map_err(|e| ServiceError::Internal(e.to_string()))?;
            for c in &cases {
                let v = self.view(c, false);
                let record = [
                    v.id.to_string(),
                    v.received_at.to_rfc3339(),
                    v.region.clone().unwrap_or_default(),
                    v.dispute_type.clone(),
                    v.type_name.clone(),
                    v.risk.code().to_string(),
                    v.status.code().to_string(),
                    v.tier.code().to_string(),
                    v.mediator_id.clone().unwrap_or_default(),
                    v.due_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                    v.channel.clone(),
                    v.caller_phone.clone().unwrap_or_default(),
                    v.address.clone().unwrap_or_default(),
                    v.text.clone(),
                ];
                w.write_record(record.iter().map(|v| spreadsheet_safe(v).into_owned())).map_err(|e| ServiceError::Internal(e.to_string()))?;
            }
            w.flush().map_err(|e| ServiceError::Internal(e.to_string()))?;
        }
        self.store.audit(&p.name, "export", None, &serde_json::json!({"filters": params, "rows": cases.len()})).await?;
        Ok(out)
    }

    /// A mediator's open cases (their own; a supervisor or admin may name one in their region).
    pub async fn queue(&self, p: &Principal, mediator: Option<&str>) -> Result<Vec<CaseView>> {
        let id = match p.role {
            Role::Mediator => p.mediator_id.clone().ok_or_else(|| ServiceError::Forbidden("this mediator account is not linked to a roster id; ask an administrator".into()))?,
            _ => {
                self.require(p, Action::Search, "read queues")?;
                mediator.map(str::to_string).ok_or_else(|| ServiceError::invalid("missing_mediator", "no mediator given", "add ?mediator=ID"))?
            }
        };
        let scope = if p.role == Role::Mediator { None } else { p.region.as_ref().map(|r| r.to_string()) };
        let cases = self.store.open_cases(scope.as_deref(), Some(&id), None, None, 500).await?;
        Ok(self.views(&cases))
    }

    /// Open cases past their due time, in the user's region.
    pub async fn overdue(&self, p: &Principal) -> Result<Vec<CaseView>> {
        self.require(p, Action::Search, "list overdue cases")?;
        let scope = p.region.as_ref().map(|r| r.to_string());
        let cases = self.store.open_cases(scope.as_deref(), None, None, Some(Utc::now()), 500).await?;
        Ok(self.views(&cases))
    }

    /// The dashboard over the last `days` local days.
    pub async fn dashboard(&self, p: &Principal, days: i64) -> Result<Dashboard> {
        self.require(p, Action::Search, "read the dashboard")?;
        let days = days.clamp(1, 366);
        let scope = p.region.as_ref().map(|r| r.to_string());
        let offset = chrono::Duration::hours(self.sla.utc_offset_hours);
        let now = Utc::now();
        let today = (now + offset).date_naive();
        let first = today - chrono::Duration::days(days - 1);
        let from = first.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - offset;
        let counts = self.store.day_counts(scope.as_deref(), from, now + chrono::Duration::days(1), self.sla.utc_offset_hours).await?;
        let first_day = crate::hotspot::calendar::day_number(first);
        let mut by_type: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut by_risk: BTreeMap<String, Vec<i64>> = RiskLevel::ALL.iter().map(|r| (r.code().to_string(), vec![0; days as usize])).collect();
        for c in counts {
            let i = c.day - first_day;
            if !(0..days).contains(&i) {
                continue;
            }
            by_type.entry(c.dispute_type.clone()).or_insert_with(|| vec![0; days as usize])[i as usize] += c.count;
            by_risk.entry(c.risk.code().to_string()).or_default()[i as usize] += c.count;
        }
        // Rows one level below the user's scope (counties when unscoped at province level).
        let depth = p.region.as_ref().map_or(3, |r| r.depth() + 1);
        let mut cells: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for (region, t, n) in self.store.open_by_region_type(scope.as_deref()).await? {
            let key = if region.is_empty() { "(未填地区)".to_string() } else { region.split('/').take(depth).collect::<Vec<_>>().join("/") };
            *cells.entry(key).or_default().entry(t).or_default() += n;
        }
        let types: Vec<String> = self.pipeline().type_labels().to_vec();
        let regions: Vec<String> = cells.keys().cloned().collect();
        let open = regions.iter().map(|r| types.iter().map(|t| cells[r].get(t).copied().unwrap_or(0)).collect()).collect();
        let open_high = self.store.open_cases(scope.as_deref(), None, Some(RiskLevel::Orange), None, 50).await?;
        let overdue = self.store.open_cases(scope.as_deref(), None, None, Some(now), 50).await?;
        let alerts = self.store.alerts(scope.as_deref(), None, 20).await?;
        Ok(Dashboard {
            days: (0..days).map(|i| (first + chrono::Duration::days(i)).format("%Y-%m-%d").to_string()).collect(),
            by_type,
            by_risk,
            region_type: RegionTypeTable { regions, types, open },
            open_high: self.views(&open_high),
            overdue: self.views(&overdue),
            alerts,
        })
    }

    /// Hotspot alerts in the user's region, of one day (YYYY-MM-DD) or the latest.
    pub async fn alerts(&self, p: &Principal, day: Option<&str>) -> Result<Vec<Alert>> {
        self.require(p, Action::Search, "read hotspot alerts")?;
        let day = day.map(parse_day).transpose()?;
        Ok(self.store.alerts(p.region.as_ref().map(|r| r.to_string()).as_deref(), day.as_deref(), 200).await?)
    }

    /// The night's report as a self-contained HTML page, built from the stored alerts of the
    /// user's region (a township supervisor sees their township's alerts only; the run's global
    /// figures are shown to unscoped users).
    pub async fn hotspot_report(&self, p: &Principal, day: Option<&str>) -> Result<String> {
        self.require(p, Action::Search, "read the hotspot report")?;
        let day = day.map(parse_day).transpose()?;
        let Some(run) = self.store.alert_run(day.as_deref()).await? else {
            return Err(ServiceError::NotFound(match &day {
                Some(d) => format!("no hotspot run is stored for {d}; run `fengqiao hotspots run --date {d}`"),
                None => "no hotspot run is stored yet; the batch runs nightly inside `serve`, or run `fengqiao hotspots run`".into(),
            }));
        };
        let scope = p.region.as_ref().map(|r| r.to_string());
        let alerts = self.store.alerts(scope.as_deref(), Some(&run.day), 1000).await?;
        Ok(hotspot::report::html(&night::stored_report(&run, &alerts, scope.as_deref())))
    }

    /// The roster with live loads (open cases per mediator).
    pub async fn mediators(&self, p: &Principal) -> Result<Vec<Mediator>> {
        self.require(p, Action::ReadRoster, "read the roster")?;
        self.refresh_loads().await?;
        Ok(self.pipeline().roster().mediators().to_vec())
    }

    /// Adds or replaces a mediator; routing uses the change at once.
    pub async fn put_mediator(&self, p: &Principal, id: &str, input: MediatorInput) -> Result<Mediator> {
        self.require(p, Action::EditRoster, "change the roster")?;
        let id = id.trim();
        if id.is_empty() || id.chars().count() > 64 {
            return Err(ServiceError::invalid("invalid_mediator", "a mediator id must have 1 to 64 characters", "use the roster id, e.g. M21"));
        }
        let bad = |m: String| ServiceError::invalid("invalid_mediator", m, "fix the mediator's fields");
        if input.name.trim().is_empty() {
            return Err(bad("the name is empty".into()));
        }
        if !(1..=5).contains(&input.stars) {
            return Err(bad(format!("stars must be 1 to 5, not {}", input.stars)));
        }
        let tier: Tier = input.tier.parse().map_err(|e: crate::labels::UnknownLabel| bad(e.to_string()))?;
        let region = RegionPath::parse(&input.region).map_err(|e| bad(e.to_string()))?;
        let m = Mediator {
            id: id.to_string(),
            name: input.name.trim().to_string(),
            stars: input.stars,
            tier,
            region,
            specialties: input.specialties.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            capacity: input.capacity,
            load: 0,
            last_assigned: 0,
        };
        self.store.put_mediator(&m, &p.name).await?;
        self.reload_roster().await?;
        Ok(self.pipeline().roster().mediators().iter().find(|x| x.id == m.id).cloned().unwrap_or(m))
    }

    /// Removes a mediator from the roster.
    pub async fn delete_mediator(&self, p: &Principal, id: &str) -> Result<()> {
        self.require(p, Action::EditRoster, "change the roster")?;
        if !self.store.delete_mediator(id, &p.name).await? {
            return Err(ServiceError::NotFound(format!("mediator `{id}` is not on the roster")));
        }
        self.reload_roster().await
    }

    /// Uses these star rules (from `config/stars.toml`) instead of the shipped ones.
    pub fn with_star_rules(mut self, rules: crate::rating::StarRules) -> Service {
        self.star_rules = rules;
        self
    }

    async fn reload_roster(&self) -> Result<()> {
        let mut roster = self.store.roster().await?;
        roster.set_loads(&self.store.open_loads().await?);
        self.pipeline_mut().set_roster(roster);
        Ok(())
    }

    /// The routing rules in force, as TOML.
    pub fn routing_rules(&self, p: &Principal) -> Result<String> {
        self.require(p, Action::EditRules, "read routing rules")?;
        toml::to_string_pretty(self.pipeline().routing_rules()).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Replaces the routing rules with a checked TOML text; stored, so every replica and every
    /// restart uses it.
    pub async fn put_routing_rules(&self, p: &Principal, text: &str) -> Result<()> {
        self.require(p, Action::EditRules, "change routing rules")?;
        let rules = RoutingRules::from_toml(text).map_err(|e| ServiceError::invalid("invalid_rules", e.to_string(), "send the whole routing.toml, as GET returns it"))?;
        self.store.put_setting(ROUTING_SETTING, text, &p.name).await?;
        self.pipeline_mut().set_routing_rules(rules);
        Ok(())
    }

    /// All users.
    pub async fn users(&self, p: &Principal) -> Result<Vec<User>> {
        self.require(p, Action::ManageUsers, "manage users")?;
        Ok(self.store.users().await?)
    }

    /// Adds a user and returns their token, which is shown this once.
    pub async fn add_user(&self, p: &Principal, input: NewUser) -> Result<(User, String)> {
        self.require(p, Action::ManageUsers, "manage users")?;
        add_user(&self.store, input, &p.name).await
    }

    /// Revokes a user's token.
    pub async fn revoke_user(&self, p: &Principal, name: &str) -> Result<()> {
        self.require(p, Action::ManageUsers, "manage users")?;
        if !self.store.revoke_user(name, &p.name).await? {
            return Err(ServiceError::NotFound(format!("user `{name}` does not exist or is already revoked")));
        }
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }

    /// The latest audit entries.
    pub async fn audit_log(&self, p: &Principal, limit: i64) -> Result<Vec<AuditEntry>> {
        self.require(p, Action::ManageUsers, "read the audit log")?;
        Ok(self.store.audit_log(limit.clamp(1, 1000)).await?)
    }

    /// The label sets the pages offer.
    pub fn labels(&self) -> serde_json::Value {
        let named = |code: &str, name: &str| serde_json::json!({"code": code, "name": name});
        serde_json::json!({
            "types": self.pipeline().type_labels().iter().map(|t| named(t, crate::triage::type_name(t))).collect::<Vec<_>>(),
            "risks": RiskLevel::ALL.iter().map(|r| named(r.code(), r.chinese())).collect::<Vec<_>>(),
            "statuses": Status::ALL.iter().map(|s| named(s.code(), view::status_name(*s))).collect::<Vec<_>>(),
            "tiers": Tier::ALL.iter().map(|t| named(t.code(), t.chinese())).collect::<Vec<_>>(),
            "channels": CHANNELS,
        })
    }

    /// Numbers for /metrics: cases stored and indexed.
    pub async fn gauges(&self) -> Result<HashMap<&'static str, i64>> {
        let mut g = HashMap::new();
        g.insert("fengqiao_cases", self.store.count().await?);
        g.insert("fengqiao_indexed_cases", self.search.len() as i64);
        Ok(g)
    }
}

/// Masks phone and ID numbers in every string of a JSON value (timeline notes and details).
fn mask_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = crate::text::mask_all(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(mask_json),
        _ => {}
    }
}

/// A CSV cell that a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return gets a leading apostrophe.
fn spreadsheet_safe(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}").into() } else { v.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(spreadsheet_safe("-1"), "'-1");
        assert_eq!(spreadsheet_safe("楼上漏水"), "楼上漏水");
    }

    #[test]
    fn timeline_details_are_masked_throughout() {
        let mut v = serde_json::json!({"text": "联系13812345678", "nested": ["身份证330681199001011237"], "n": 3});
        mask_json(&mut v);
        assert_eq!(v["text"], "联系138****5678");
        assert!(!v["nested"][0].as_str().unwrap().contains("199001011234"));
        assert_eq!(v["n"], 3);
    }
}

/// A day as `YYYY-MM-DD`, or an `invalid_day` error.
fn parse_day(s: &str) -> Result<String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| ServiceError::invalid("invalid_day", format!("`{s}` is not a day"), "use YYYY-MM-DD, e.g. 2026-11-21"))
}

/// Parses the times users type: RFC 3339, `YYYY-MM-DD HH:MM[:SS]`, `YYYY/MM/DD …`, or a date
/// alone; times without a zone are China Standard Time (UTC+8).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDateTime, TimeZone};
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
    let s = s.replace('/', "-");
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, f) {
            return cst.from_local_datetime(&t).single().map(|t| t.with_timezone(&Utc));
        }
    }
    let d = NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()?;
    cst.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single().map(|t| t.with_timezone(&Utc))
}

/// The case writer: takes the first waiting case, whatever else has queued behind it (up to
/// 64), stores them in one transaction, and answers each only after the commit.
async fn write_cases(store: CaseStore, mut queue: tokio::sync::mpsc::Receiver<PendingCase>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < 64 {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let cases: Vec<NewCase> = batch.iter().map(|(c, _, _)| c.clone()).collect();
        let actors: Vec<&str> = batch.iter().map(|(_, a, _)| a.as_str()).collect();
        match store.create_cases_by(&cases, &actors).await {
            Ok(created) => {
                for ((_, _, reply), c) in batch.into_iter().zip(created) {
                    let _ = reply.send(Ok(c));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, cases = batch.len(), "storing cases failed; nothing of the batch was stored");
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(format!("storing the case failed: {e}")));
                }
            }
        }
    }
}

fn check_note(note: Option<&str>) -> Result<Option<&str>> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        let chars = n.chars().count();
        if chars > MAX_NOTE_CHARS {
            return Err(ServiceError::invalid("note_too_long", format!("the note has {chars} characters; the limit is {MAX_NOTE_CHARS}"), "shorten it or split it into several notes"));
        }
    }
    Ok(note)
}

/// Adds a user (checking role, region and mediator link) and returns them with their new token.
pub async fn add_user(store: &CaseStore, input: NewUser, actor: &str) -> Result<(User, String)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ServiceError::invalid("invalid_user", "a user name must have 1 to 64 characters", "choose a name"));
    }
    let role: Role = input.role.parse().map_err(|e: crate::labels::UnknownLabel| ServiceError::invalid("unknown_label", e.to_string(), "use operator, supervisor, mediator or admin"))?;
    let region = input
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| RegionPath::parse(r).map(|r| r.to_string()).map_err(|e| ServiceError::invalid("invalid_region", e.to_string(), "give a region path such as 浙江省/绍兴市/诸暨市/枫桥镇")))
        .transpose()?;
    let mediator_id = input.mediator_id.as_deref().map(str::trim).filter(|m| !m.is_empty()).map(str::to_string);
    if role == Role::Mediator && mediator_id.is_none() {
        return Err(ServiceError::invalid("missing_mediator", "a mediator account needs the mediator's roster id", "add --mediator ID (mediator_id)"));
    }
    if let Some(m) = &mediator_id {
        if !store.roster().await?.mediators().iter().any(|x| &x.id == m) {
            return Err(ServiceError::invalid("unknown_mediator", format!("mediator `{m}` is not on the roster"), "import the roster first or fix the id"));
        }
    }
    let days = input.days.unwrap_or(365);
    if !(1..=3650).contains(&days) {
        return Err(ServiceError::invalid("invalid_user", format!("days must be 1 to 3650, not {days}"), "give how many days the token should work"));
    }
    let now = Utc::now();
    let user = User { name: name.to_string(), role, region, mediator_id, created_at: now, expires_at: Some(now + chrono::Duration::days(days)), revoked: false };
    let token = crate::access::new_token().map_err(|e| ServiceError::Internal(format!("random token: {e}")))?;
    store.add_user(&user, &crate::access::token_hash(&token), actor).await?;
    Ok((user, token))
}

/// A one-shot stop signal shared by the background tasks and the HTTP server; cloneable, and
/// every holder sees the stop.
#[derive(Clone)]
pub struct Stop(Arc<tokio::sync::watch::Sender<bool>>, tokio::sync::watch::Receiver<bool>);

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}

impl Stop {
    /// A signal not yet given.
    pub fn new() -> Stop {
        let (tx, rx) = tokio::sync::watch::channel(false);
        Stop(Arc::new(tx), rx)
    }

    /// Gives the signal.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }

    /// Waits for the signal.
    pub async fn wait(&self) {
        let mut rx = self.1.clone();
        let _ = rx.wait_for(|s| *s).await;
    }
}
