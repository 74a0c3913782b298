//! The system of record: cases, their timelines (events), label corrections, the change log
//! the search index follows, the mediator roster and users. SQLite by default (one file under
//! the data directory), PostgreSQL when given a `postgres://` URL; both run the same SQL through
//! sqlx's `Any` driver, so one test suite covers both.
//!
//! Durability: every write is one transaction that also appends to `changes`; a call returns only
//! after the commit, and SQLite runs in WAL mode with `synchronous = FULL`, so an acknowledged
//! case survives a killed process or a power cut. Nothing here knows about HTTP or tantivy.

mod rating;
mod schema;
mod work;

pub use rating::{HandledRow, MediatorEvent};
pub use work::{Alert, AuditEntry, CaseFactRow, DayCount, OPEN, StaffLabel, User};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
// Every dynamic SQL string below is assembled from constants of this module and column names
// from a fixed list; values always go through bind parameters.
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::labels::{RiskLevel, Tier};
use crate::routing::{Mediator, RegionPath, Roster};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one fengqiao can use.
    #[error("database URL `{0}` is not supported; use a file path, sqlite://PATH or postgres://USER@HOST/DB")]
    Url(String),
    /// No case with this id.
    #[error("case {0} does not exist")]
    NotFound(i64),
    /// Something with this name is already stored.
    #[error("{0} already exists; choose another name")]
    Exists(String),
    /// The lifecycle does not allow this step.
    #[error("case {id} is {from}; it cannot become {to} (allowed next: {allowed})")]
    Transition {
        /// The case.
        id: i64,
        /// Its status now.
        from: Status,
        /// The status asked for.
        to: Status,
        /// What it may become.
        allowed: String,
    },
    /// No mediator with this id on the roster.
    #[error("mediator `{0}` is not on the roster")]
    NoMediator(String),
    /// A stored value is not what the schema promises (a bug or manual editing).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where a case is in its lifecycle: new → assigned → in_progress → resolved | failed |
/// escalated → closed; an escalated case may be assigned again at a higher tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Received, not yet with a mediator.
    New,
    /// A mediator has it.
    Assigned,
    /// The mediator is working on it.
    InProgress,
    /// Settled.
    Resolved,
    /// Mediation failed.
    Failed,
    /// Sent up a tier.
    Escalated,
    /// Done; nothing more will happen.
    Closed,
}

impl Status {
    /// All statuses.
    pub const ALL: [Status; 7] =
        [Status::New, Status::Assigned, Status::InProgress, Status::Resolved, Status::Failed, Status::Escalated, Status::Closed];

    /// The code stored and shown in JSON.
    pub fn code(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Failed => "failed",
            Status::Escalated => "escalated",
            Status::Closed => "closed",
        }
    }

    /// The statuses a case may move to from this one.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::New => &[Status::Assigned],
            Status::Assigned => &[Status::InProgress],
            Status::InProgress => &[Status::Resolved, Status::Failed, Status::Escalated],
            Status::Resolved | Status::Failed => &[Status::Closed],
            Status::Escalated => &[Status::Assigned, Status::Closed],
            Status::Closed => &[],
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Status {
    type Err = crate::labels::UnknownLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.iter().copied().find(|st| st.code() == s.trim()).ok_or_else(|| crate::labels::UnknownLabel {
            scale: "status",
            value: s.to_string(),
            expected: "new, assigned, in_progress, resolved, failed, escalated, closed",
        })
    }
}

/// A case to be stored, usually built from a triage result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    /// Id in the source system; importing the same id twice stores it once.
    pub external_id: Option<String>,
    /// When the complaint was received.
    pub received_at: DateTime<Utc>,
    /// How it came in: hotline, web, wechat, walk_in, grid, import.
    pub channel: String,
    /// Caller's name.
    pub caller_name: Option<String>,
    /// Caller's phone, digits only.
    pub caller_phone: Option<String>,
    /// Region path.
    pub region: Option<String>,
    /// Address of the dispute.
    pub address: Option<String>,
    /// The complaint.
    pub text: String,
    /// Predicted type code.
    pub predicted_type: String,
    /// Its probability.
    pub predicted_type_prob: f64,
    /// Predicted risk level.
    pub predicted_risk: RiskLevel,
    /// Risk probabilities, blue to red.
    pub risk_probs: [f32; 4],
    /// The reasons shown to the operator.
    pub reasons: Vec<String>,
    /// Type confirmed or corrected at intake, if any.
    pub confirmed_type: Option<String>,
    /// Risk confirmed or corrected at intake, if any.
    pub confirmed_risk: Option<RiskLevel>,
    /// Model that made the predictions.
    pub model_version: String,
    /// Routed tier.
    pub tier: Tier,
    /// Assigned mediator, if any (the case starts `assigned` then).
    pub mediator_id: Option<String>,
    /// Further regions a cross-region dispute spans (the case is found under each).
    #[serde(default)]
    pub other_regions: Vec<String>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// Store id.
    pub id: i64,
    /// Everything it was created with, as updated since.
    #[serde(flatten)]
    pub fields: NewCase,
    /// Lifecycle status.
    pub status: Status,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Case {
    /// The type staff confirmed, else the predicted one.
    pub fn effective_type(&self) -> &str {
        self.fields.confirmed_type.as_deref().unwrap_or(&self.fields.predicted_type)
    }

    /// The risk staff confirmed, else the predicted one.
    pub fn effective_risk(&self) -> RiskLevel {
        self.fields.confirmed_risk.unwrap_or(self.fields.predicted_risk)
    }
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (user name, `system`, `import`).
    pub actor: String,
    /// What: created, assigned, status, confirmed, corrected, note.
    pub kind: String,
    /// Details as JSON.
    pub detail: serde_json::Value,
}

/// Earlier cases related to a new complaint (see [`CaseStore::history`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Same phone, last 90 days.
    pub same_phone: Vec<Case>,
    /// Same address, not closed.
    pub same_address: Vec<Case>,
    /// Near-duplicate text, same region, last 30 days.
    pub similar: Vec<Case>,
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The case store.
#[derive(Debug, Clone)]
pub struct CaseStore {
    pool: AnyPool,
    backend: Backend,
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The columns a new case is inserted with, in bind order.
macro_rules! insert_columns {
    () => {
        "external_id, received_at, channel, caller_name, caller_phone, region, address, text, predicted_type, \
         predicted_type_prob, predicted_risk, risk_probs, reasons, confirmed_type, confirmed_risk, model_version, tier, \
         mediator_id, status, due_at, updated_at, other_regions"
    };
}
const INSERT_COLUMNS: &str = insert_columns!();
const CASE_COLUMNS: &str = concat!("id, ", insert_columns!());

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn case_from_row(row: &AnyRow) -> Result<Case, StoreError> {
    let parse_risk = |s: String| s.parse::<RiskLevel>().map_err(corrupt);
    let risk_probs: Vec<f32> = serde_json::from_str(&row.try_get::<String, _>("risk_probs")?).map_err(corrupt)?;
    Ok(Case {
        id: row.try_get("id")?,
        fields: NewCase {
            external_id: row.try_get("external_id")?,
            received_at: from_millis(row.try_get("received_at")?),
            channel: row.try_get("channel")?,
            caller_name: row.try_get("caller_name")?,
            caller_phone: row.try_get("caller_phone")?,
            region: row.try_get("region")?,
            address: row.try_get("address")?,
            text: row.try_get("text")?,
            predicted_type: row.try_get("predicted_type")?,
            predicted_type_prob: row.try_get("predicted_type_prob")?,
            predicted_risk: parse_risk(row.try_get("predicted_risk")?)?,
            risk_probs: risk_probs.try_into().map_err(|_| corrupt("risk_probs is not four numbers"))?,
            reasons: serde_json::from_str(&row.try_get::<String, _>("reasons")?).map_err(corrupt)?,
            confirmed_type: row.try_get("confirmed_type")?,
            confirmed_risk: row.try_get::<Option<String>, _>("confirmed_risk")?.map(parse_risk).transpose()?,
            model_version: row.try_get("model_version")?,
            tier: row.try_get::<String, _>("tier")?.parse().map_err(corrupt)?,
            mediator_id: row.try_get("mediator_id")?,
            due_at: row.try_get::<Option<i64>, _>("due_at")?.map(from_millis),
            other_regions: serde_json::from_str(&row.try_get::<String, _>("other_regions")?).map_err(corrupt)?,
        },
        status: row.try_get::<String, _>("status")?.parse().map_err(corrupt)?,
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

/// What [`CaseStore::create_cases`] did with each case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// Stored with this id.
    New(i64),
    /// Its external id was already stored, under this id; nothing changed.
    Existing(i64),
}

impl Created {
    /// The case id either way.
    pub fn id(self) -> i64 {
        match self {
            Created::New(id) | Created::Existing(id) => id,
        }
    }
}

impl CaseStore {
    /// Opens (creating if needed) the store at `url`: a `postgres://` or `postgresql://` URL, a
    /// `sqlite://` URL, or a plain path to a SQLite file. Applies pending migrations.
    pub async fn open(url: &str) -> Result<CaseStore, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_string(), Backend::Postgres)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            (format!("sqlite://{path}?mode=rwc"), Backend::Sqlite)
        } else if url.contains("://") {
            return Err(StoreError::Url(url.to_string()));
        } else {
            (format!("sqlite://{url}?mode=rwc"), Backend::Sqlite)
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA busy_timeout = 10000", "PRAGMA foreign_keys = ON"] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => options.max_connections(8).connect(&url).await?,
        };
        let store = CaseStore { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the default embedded store: `fengqiao.sqlite` in `data_dir` (created if missing).
    pub async fn open_dir(data_dir: &Path) -> Result<CaseStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        CaseStore::open(&data_dir.join("fengqiao.sqlite").to_string_lossy()).await
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            .execute(&self.pool)
            .await?;
        let serial = match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGSERIAL PRIMARY KEY",
        };
        for (version, description, sql) in schema::MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1").bind(version).fetch_optional(&mut *tx).await?;
            if done.is_some() {
                continue;
            }
            for statement in sql.replace("{serial}", serial).split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(AssertSqlSafe(statement.to_string())).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)")
                .bind(version)
                .bind(*description)
                .bind(millis(now()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Stores cases in one transaction and returns, per case, its id and whether it was new.
    /// A case whose external id is already stored is left as it is. Nothing is visible, and
    /// nothing may be acknowledged, before this returns.
    pub async fn create_cases(&self, cases: &[NewCase], actor: &str) -> Result<Vec<Created>, StoreError> {
        self.create_cases_by(cases, &vec![actor; cases.len()]).await
    }

    /// Like [`CaseStore::create_cases`], each case with its own actor: the service stores the
    /// cases several users created at the same moment in one transaction (one disk flush).
    pub async fn create_cases_by(&self, cases: &[NewCase], actors: &[&str]) -> Result<Vec<Created>, StoreError> {
        assert_eq!(cases.len(), actors.len(), "one actor per case");
        // Rows go in multi-row statements: each statement is a round trip (on SQLite, a hand-off
        // to the connection's worker thread), and per-row statements made that the bottleneck
        // of imports.
        const ROWS: usize = 40;
        let width = INSERT_COLUMNS.split(',').count();
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(cases.len());
        for (chunk, chunk_actors) in cases.chunks(ROWS).zip(actors.chunks(ROWS)) {
            let at = millis(now());
            let values = self.value_rows(chunk.len(), width);
            let sql = format!("INSERT INTO cases ({INSERT_COLUMNS}) VALUES {values} ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id");
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                let status = if c.mediator_id.is_some() { Status::Assigned } else { Status::New };
                query = query
                    .bind(c.external_id.clone())
                    .bind(millis(c.received_at))
                    .bind(c.channel.clone())
                    .bind(c.caller_name.clone())
                    .bind(c.caller_phone.clone())
                    .bind(c.region.clone())
                    .bind(c.address.clone())
                    .bind(c.text.clone())
                    .bind(c.predicted_type.clone())
                    .bind(c.predicted_type_prob)
                    .bind(c.predicted_risk.code())
                    .bind(serde_json::to_string(&c.risk_probs).expect("numbers serialise"))
                    .bind(serde_json::to_string(&c.reasons).expect("strings serialise"))
                    .bind(c.confirmed_type.clone())
                    .bind(c.confirmed_risk.map(|r| r.code()))
                    .bind(c.model_version.clone())
                    .bind(c.tier.code())
                    .bind(c.mediator_id.clone())
                    .bind(status.code())
                    .bind(c.due_at.map(millis))
                    .bind(at)
                    .bind(serde_json::to_string(&c.other_regions).expect("strings serialise"));
            }
            let returned = query.fetch_all(&mut *tx).await?;
            // Keyed rows are matched by external id; rows without one cannot conflict and come
            // back in the order they were given.
            let mut by_key = std::collections::HashMap::new();
            let mut unkeyed = Vec::new();
            for r in &returned {
                let id: i64 = r.try_get("id")?;
                match r.try_get::<Option<String>, _>("external_id")? {
                    Some(k) => {
                        by_key.insert(k, id);
                    }
                    None => unkeyed.push(id),
                }
            }
            // Ids are handed out in VALUES order on both backends.
            unkeyed.sort_unstable();
            let mut unkeyed = unkeyed.into_iter();
            let mut new_rows = Vec::new();
            for (c, actor) in chunk.iter().zip(chunk_actors) {
                let created = match &c.external_id {
                    None => Created::New(unkeyed.next().ok_or_else(|| corrupt("a case without external id was not stored"))?),
                    Some(k) => match by_key.remove(k) {
                        Some(id) => Created::New(id),
                        None => {
                            let id: i64 = sqlx::query_scalar("SELECT id FROM cases WHERE external_id = $1").bind(k.clone()).fetch_one(&mut *tx).await?;
                            Created::Existing(id)
                        }
                    },
                };
                if let Created::New(id) = created {
                    new_rows.push((id, c, *actor));
                }
                out.push(created);
            }
            if !new_rows.is_empty() {
                let events = self.value_rows(new_rows.len(), 5);
                let mut q = sqlx::query(AssertSqlSafe(format!("INSERT INTO case_events (case_id, at, actor, kind, detail) VALUES {events}")));
                for (id, c, actor) in &new_rows {
                    let detail = serde_json::json!({"channel": c.channel, "type": c.predicted_type, "risk": c.predicted_risk, "tier": c.tier, "mediator": c.mediator_id});
                    q = q.bind(*id).bind(at).bind(actor.to_string()).bind("created").bind(detail.to_string());
                }
                q.execute(&mut *tx).await?;
                let changes = self.value_rows(new_rows.len(), 2);
                let mut q = sqlx::query(AssertSqlSafe(format!("INSERT INTO changes (case_id, at) VALUES {changes}")));
                for (id, _, _) in &new_rows {
                    q = q.bind(*id).bind(at);
                }
                q.execute(&mut *tx).await?;
                // Labels given at intake are kept like later confirmations, for retraining.
                let labels: Vec<(i64, &str, String, &str)> = new_rows
                    .iter()
                    .flat_map(|(id, c, actor)| {
                        let t = c.confirmed_type.clone().map(|v| (*id, "type", v, *actor));
                        let r = c.confirmed_risk.map(|v| (*id, "risk", v.code().to_string(), *actor));
                        t.into_iter().chain(r)
                    })
                    .collect();
                if !labels.is_empty() {
                    let rows = self.value_rows(labels.len(), 5);
                    let mut q = sqlx::query(AssertSqlSafe(format!("INSERT INTO labels (case_id, field, value, actor, at) VALUES {rows}")));
                    for (id, field, value, actor) in labels {
                        q = q.bind(id).bind(field).bind(value).bind(actor.to_string()).bind(at);
                    }
                    q.execute(&mut *tx).await?;
                }
                // One audit entry per actor: the cases they created in this batch.
                let mut by_actor: std::collections::BTreeMap<&str, Vec<i64>> = std::collections::BTreeMap::new();
                for (id, _, actor) in &new_rows {
                    by_actor.entry(actor).or_default().push(*id);
                }
                for (actor, ids) in by_actor {
                    let single = ids.first().copied().filter(|_| ids.len() == 1);
                    work::insert_audit(&mut tx, at, actor, "create_cases", single, &serde_json::json!({"count": ids.len(), "ids": if ids.len() <= 100 { serde_json::json!(ids) } else { serde_json::json!({"first": ids.first(), "last": ids.last()}) }})).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// `rows` parenthesised groups of `width` parameters for a multi-row `VALUES`. PostgreSQL
    /// needs numbered parameters; SQLite gets anonymous `?`, which it numbers in order and which
    /// spares sqlx a name lookup per parameter (measured: 5% of an import's time).
    fn value_rows(&self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|r| {
                let params: Vec<String> = match self.backend {
                    Backend::Sqlite => vec!["?".to_string(); width],
                    Backend::Postgres => (1..=width).map(|c| format!("${}", r * width + c)).collect(),
                };
                format!("({})", params.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `FOR UPDATE` where the backend has row locks (SQLite locks the whole database for a
    /// write transaction anyway).
    fn row_lock(&self) -> &'static str {
        if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" }
    }

    /// Reads one case.
    pub async fn case(&self, id: i64) -> Result<Case, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"))).bind(id).fetch_optional(&self.pool).await?;
        case_from_row(&row.ok_or(StoreError::NotFound(id))?)
    }

    /// A case's timeline, oldest first.
    pub async fn events(&self, id: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT at, actor, kind, detail FROM case_events WHERE case_id = $1 ORDER BY id").bind(id).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    at: from_millis(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    kind: r.try_get("kind")?,
                    detail: serde_json::from_str(&r.try_get::<String, _>("detail")?).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Moves a case to a new status if the lifecycle allows it, recording who and when.
    pub async fn transition(&self, id: i64, to: Status, actor: &str, note: Option<&str>) -> Result<Case, StoreError> {
        self.transition_with(id, to, actor, note, None).await
    }

    /// Moves a case to a new status and, in the same transaction, records `extra` (an event
    /// kind and its detail) beside the status change: an outcome with its result.
    pub(crate) async fn transition_with(&self, id: i64, to: Status, actor: &str, note: Option<&str>, extra: Option<(&str, serde_json::Value)>) -> Result<Case, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lock = self.row_lock();
        let from: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT status FROM cases WHERE id = $1{lock}"))).bind(id).fetch_optional(&mut *tx).await?;
        let from: Status = from.ok_or(StoreError::NotFound(id))?.parse().map_err(corrupt)?;
        if !from.next().contains(&to) {
            let allowed = from.next().iter().map(|s| s.code()).collect::<Vec<_>>().join(", ");
            return Err(StoreError::Transition { id, from, to, allowed: if allowed.is_empty() { "none".into() } else { allowed } });
        }
        let at = millis(now());
        sqlx::query("UPDATE cases SET status = $1, updated_at = $2 WHERE id = $3").bind(to.code()).bind(at).bind(id).execute(&mut *tx).await?;
        let detail = serde_json::json!({"from": from, "to": to, "note": note});
        insert_event(&mut tx, id, at, actor, "status", &detail).await?;
        work::insert_audit(&mut tx, at, actor, "transition", Some(id), &detail).await?;
        if let Some((kind, detail)) = extra {
            insert_event(&mut tx, id, at, actor, kind, &detail).await?;
            work::insert_audit(&mut tx, at, actor, kind, Some(id), &detail).await?;
        }
        insert_change(&mut tx, id, at).await?;
        tx.commit().await?;
        self.case(id).await
    }

    /// Confirms or corrects the type and/or risk. A value that differs from the prediction is a
    /// correction; either way it is kept as a label for retraining and recorded as an event.
    pub async fn confirm(&self, id: i64, dispute_type: Option<&str>, risk: Option<RiskLevel>, actor: &str) -> Result<Case, StoreError> {
        let case = self.case(id).await?;
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        for (field, value, predicted) in [
            ("type", dispute_type.map(str::to_string), case.fields.predicted_type.clone()),
            ("risk", risk.map(|r| r.code().to_string()), case.fields.predicted_risk.code().to_string()),
        ] {
            let Some(value) = value else { continue };
            let column = if field == "type" { "confirmed_type" } else { "confirmed_risk" };
            sqlx::query(AssertSqlSafe(format!("UPDATE cases SET {column} = $1, updated_at = $2 WHERE id = $3"))).bind(value.clone()).bind(at).bind(id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO labels (case_id, field, value, actor, at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(field)
                .bind(value.clone())
                .bind(actor)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let kind = if value == predicted { "confirmed" } else { "corrected" };
            let detail = serde_json::json!({"field": field, "predicted": predicted, "value": value});
            insert_event(&mut tx, id, at, actor, kind, &detail).await?;
            work::insert_audit(&mut tx, at, actor, "label", Some(id), &detail).await?;
        }
        insert_change(&mut tx, id, at).await?;
        tx.commit().await?;
        self.case(id).await
    }

    /// Earlier cases that bear on a new complaint: from the same phone in the last 90 days, at
    /// the same address and still open, and near-duplicates (character-bigram similarity of at
    /// least [`crate::text::NEAR_DUPLICATE`]) in the same region in the last 30 days, found by
    /// scanning the region's latest 500 cases (the service finds them through the search index
    /// instead, and passes no region). At most 20 of each, newest first.
    pub async fn history(&self, phone: Option<&str>, address: Option<&str>, region: Option<&str>, normalized_text: &str, now: DateTime<Utc>) -> Result<History, StoreError> {
        let day = 24 * 3600 * 1000;
        let mut h = History::default();
        if let Some(p) = phone.filter(|p| !p.is_empty()) {
            let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE caller_phone = $1 AND received_at >= $2 ORDER BY received_at DESC LIMIT 20");
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(p.to_string()).bind(millis(now) - 90 * day).fetch_all(&self.pool).await?;
            h.same_phone = rows.iter().map(case_from_row).collect::<Result<_, _>>()?;
        }
        if let Some(a) = address.map(str::trim).filter(|a| !a.is_empty()) {
            let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE address = $1 AND status <> 'closed' ORDER BY received_at DESC LIMIT 20");
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(a.to_string()).fetch_all(&self.pool).await?;
            h.same_address = rows.iter().map(case_from_row).collect::<Result<_, _>>()?;
        }
        if let Some(r) = region.filter(|r| !r.is_empty()) {
            let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE region = $1 AND received_at >= $2 ORDER BY received_at DESC LIMIT 500");
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(r.to_string()).bind(millis(now) - 30 * day).fetch_all(&self.pool).await?;
            for row in &rows {
                let c = case_from_row(row)?;
                if crate::text::similarity(&crate::text::normalize(&c.fields.text), normalized_text) >= crate::text::NEAR_DUPLICATE {
                    h.similar.push(c);
                    if h.similar.len() == 20 {
                        break;
                    }
                }
            }
        }
        Ok(h)
    }

    /// The highest change sequence number (0 for an empty store).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM changes").fetch_one(&self.pool).await?.unwrap_or(0))
    }

    /// Cases changed after `seq`, as (latest change seq, case), in sequence order, at most `limit`.
    pub async fn changed_since(&self, seq: i64, limit: i64) -> Result<Vec<(i64, Case)>, StoreError> {
        let columns = CASE_COLUMNS.split(',').map(|c| format!("c.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT ch.seq AS seq, {columns} FROM (SELECT case_id, MAX(seq) AS seq FROM changes WHERE seq > $1 GROUP BY case_id) ch \
             JOIN cases c ON c.id = ch.case_id ORDER BY ch.seq LIMIT $2"
        )))
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("seq")?, case_from_row(r)?))).collect()
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Number of stored cases.
    pub async fn count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cases").fetch_one(&self.pool).await?)
    }

    /// Replaces the stored roster with `roster` (mediators not in it are removed).
    pub async fn import_roster(&self, roster: &Roster, actor: &str) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM mediators").execute(&mut *tx).await?;
        work::insert_audit(&mut tx, millis(now()), actor, "roster_import", None, &serde_json::json!({"mediators": roster.mediators().len()})).await?;
        for m in roster.mediators() {
            insert_mediator(&mut tx, m).await?;
        }
        tx.commit().await?;
        Ok(roster.mediators().len())
    }

    /// The stored roster, for routing.
    pub async fn roster(&self) -> Result<Roster, StoreError> {
        let rows = sqlx::query("SELECT id, name, stars, tier, region, specialties, capacity, load, last_assigned FROM mediators ORDER BY id").fetch_all(&self.pool).await?;
        let mediators = rows
            .iter()
            .map(|r| {
                Ok(Mediator {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    stars: u8::try_from(r.try_get::<i64, _>("stars")?).map_err(corrupt)?,
                    tier: r.try_get::<String, _>("tier")?.parse().map_err(corrupt)?,
                    region: RegionPath::parse(&r.try_get::<String, _>("region")?).map_err(corrupt)?,
                    specialties: serde_json::from_str(&r.try_get::<String, _>("specialties")?).map_err(corrupt)?,
                    capacity: u32::try_from(r.try_get::<i64, _>("capacity")?).map_err(corrupt)?,
                    load: u32::try_from(r.try_get::<i64, _>("load")?).map_err(corrupt)?,
                    last_assigned: u64::try_from(r.try_get::<i64, _>("last_assigned")?).map_err(corrupt)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Roster::new(mediators).map_err(corrupt)
    }
}

async fn insert_event(tx: &mut sqlx::Transaction<'_, sqlx::Any>, case_id: i64, at: i64, actor: &str, kind: &str, detail: &serde_json::Value) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO case_events (case_id, at, actor, kind, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(case_id)
        .bind(at)
        .bind(actor)
        .bind(kind)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_mediator(tx: &mut sqlx::Transaction<'_, sqlx::Any>, m: &Mediator) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO mediators (id, name, stars, tier, region, specialties, capacity, load, last_assigned) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(m.id.clone())
        .bind(m.name.clone())
        .bind(m.stars as i64)
        .bind(m.tier.code())
        .bind(m.region.to_string())
        .bind(serde_json::to_string(&m.specialties).expect("strings serialise"))
        .bind(m.capacity as i64)
        .bind(m.load as i64)
        .bind(m.last_assigned as i64)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_change(tx: &mut sqlx::Transaction<'_, sqlx::Any>, case_id: i64, at: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (case_id, at) VALUES ($1, $2)").bind(case_id).bind(at).execute(&mut **tx).await?;
    Ok(())
}
