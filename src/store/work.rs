//! The store side of the service: users and their token hashes, the audit log, settings,
//! assignment and notes, queues, overdue marking, dashboard counts, hotspot alerts, the roster
//! as edited by administrators, and the labels staff gave (for retraining).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{CASE_COLUMNS, Case, CaseStore, StoreError, Status, case_from_row, corrupt, from_millis, insert_change, insert_event, millis, now};
use crate::access::Role;
use crate::labels::RiskLevel;
use crate::routing::Mediator;

/// Statuses in which a case is still someone's work.
pub const OPEN: [Status; 4] = [Status::New, Status::Assigned, Status::InProgress, Status::Escalated];

fn open_list() -> String {
    OPEN.iter().map(|s| format!("'{}'", s.code())).collect::<Vec<_>>().join(", ")
}

/// A user account (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Unique name, recorded as the actor of their changes.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Region subtree, if limited.
    pub region: Option<String>,
    /// Roster id, for mediators.
    pub mediator_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The token stops working at this time.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked by an administrator.
    pub revoked: bool,
}

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What: `create_cases`, `transition`, `label`, `assign`, `note`, `view_unmasked`, `export`,
    /// `roster_put`, `roster_delete`, `user_add`, `user_revoke`, `setting`, `overdue`.
    pub action: String,
    /// The case concerned, if any.
    pub case_id: Option<i64>,
    /// Details.
    pub detail: serde_json::Value,
}

/// A hotspot alert as stored by the nightly batch.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Alert {
    /// Store id (0 before it is stored).
    #[serde(default)]
    pub id: i64,
    /// The day the counts rose (YYYY-MM-DD).
    pub day: String,
    /// Region path of the cell.
    pub region: String,
    /// Dispute type of the cell; `None` for all types together.
    #[serde(rename = "type")]
    pub dispute_type: Option<String>,
    /// Cases counted.
    pub observed: i64,
    /// Cases expected.
    pub expected: f64,
    /// Upper bound of the expected band.
    pub upper: f64,
    /// The test's score (an adjusted p-value: smaller is stronger).
    pub score: f64,
    /// Why, in words.
    pub reason: String,
    /// `cell` (a region × type whose count rose), `topic` (words that surged), or `caller` (a
    /// repeat caller).
    #[serde(default = "cell_kind")]
    pub kind: String,
    /// What the alert rests on: a cell's daily counts and expected band, a topic's words and
    /// example cases, a caller's calls (no personal data).
    #[serde(default)]
    pub evidence: serde_json::Value,
}

fn cell_kind() -> String {
    "cell".to_string()
}

const ALERT_COLUMNS: &str = "id, day, region, dispute_type, observed, expected, upper, score, reason, kind, evidence";

fn alert_from_row(r: &sqlx::any::AnyRow) -> Result<Alert, StoreError> {
    Ok(Alert {
        id: r.try_get("id")?,
        day: r.try_get("day")?,
        region: r.try_get("region")?,
        dispute_type: r.try_get("dispute_type")?,
        observed: r.try_get("observed")?,
        expected: r.try_get("expected")?,
        upper: r.try_get("upper")?,
        score: r.try_get("score")?,
        reason: r.try_get("reason")?,
        kind: r.try_get("kind")?,
        evidence: serde_json::from_str(&r.try_get::<String, _>("evidence")?).unwrap_or(serde_json::Value::Null),
    })
}

/// One case as the hotspot batch reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFactRow {
    /// Case id.
    pub id: i64,
    /// Received, milliseconds since the epoch.
    pub received_at: i64,
    /// Region path.
    pub region: Option<String>,
    /// Further regions of a cross-region case.
    pub other_regions: Vec<String>,
    /// Effective dispute type (confirmed, else predicted).
    pub dispute_type: String,
    /// Caller phone.
    pub caller: Option<String>,
    /// The text, where asked for (see [`CaseStore::case_facts`]).
    pub text: Option<String>,
}

/// Cases per (day, type, risk), for the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DayCount {
    /// Local day number (days since 1970-01-01 in the dashboard's time zone).
    pub day: i64,
    /// Effective type.
    pub dispute_type: String,
    /// Effective risk.
    pub risk: RiskLevel,
    /// Cases.
    pub count: i64,
}

/// A labelled text from staff confirmations and corrections.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffLabel {
    /// Case id.
    pub case_id: i64,
    /// The complaint.
    pub text: String,
    /// Confirmed type.
    pub dispute_type: String,
    /// Confirmed risk.
    pub risk: RiskLevel,
}

/// Appends ` {joiner} (region = $n OR region LIKE $n+1)` to `sql` for a region subtree, with
/// parameters numbered from `first_param`, and returns the values to bind (none without a scope).
fn scope_clause(sql: &mut String, joiner: &str, first_param: usize, scope: Option<&str>) -> Vec<String> {
    match scope {
        Some(scope) => {
            *sql += &format!(" {joiner} (region = ${first_param} OR region LIKE ${})", first_param + 1);
            vec![scope.to_string(), format!("{scope}/%")]
        }
        None => Vec::new(),
    }
}

pub(super) async fn insert_audit(tx: &mut sqlx::Transaction<'_, sqlx::Any>, at: i64, actor: &str, action: &str, case_id: Option<i64>, detail: &serde_json::Value) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (at, actor, action, case_id, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(case_id)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    Ok(User {
        name: r.try_get("name")?,
        role: r.try_get::<String, _>("role")?.parse().map_err(corrupt)?,
        region: r.try_get("region")?,
        mediator_id: r.try_get("mediator_id")?,
        created_at: from_millis(r.try_get("created_at")?),
        expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(from_millis),
        revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

const USER_COLUMNS: &str = "name, role, region, mediator_id, created_at, expires_at, revoked_at";

impl CaseStore {
    /// Adds a user with the hash of their token. A name already taken is refused.
    pub async fn add_user(&self, user: &User, token_hash: &str, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let taken: Option<String> = sqlx::query_scalar("SELECT name FROM users WHERE name = $1").bind(user.name.clone()).fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            return Err(StoreError::Exists(format!("user `{}`", user.name)));
        }
        let at = millis(user.created_at);
        sqlx::query("INSERT INTO users (name, role, region, mediator_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(user.name.clone())
            .bind(user.role.code())
            .bind(user.region.clone())
            .bind(user.mediator_id.clone())
            .bind(token_hash)
            .bind(at)
            .bind(user.expires_at.map(millis))
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({"name": user.name, "role": user.role, "region": user.region, "mediator_id": user.mediator_id, "expires_at": user.expires_at});
        insert_audit(&mut tx, at, actor, "user_add", None, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user holding a token with this hash, if any (expired and revoked users included; the
    /// caller decides what those may do).
    pub async fn user_by_token(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE token_hash = $1"))).bind(token_hash).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All users, by name.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Revokes a user's token; `false` if there is no such user.
    pub async fn revoke_user(&self, name: &str, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        let n = sqlx::query("UPDATE users SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL").bind(at).bind(name).execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            insert_audit(&mut tx, at, actor, "user_revoke", None, &serde_json::json!({"name": name})).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Records an action that changes nothing else (an unmasked view, an export).
    pub async fn audit(&self, actor: &str, action: &str, case_id: Option<i64>, detail: &serde_json::Value) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, millis(now()), actor, action, case_id, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest audit entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT at, actor, action, case_id, detail FROM audit ORDER BY id DESC LIMIT $1").bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_millis(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    case_id: r.try_get("case_id")?,
                    detail: serde_json::from_str(&r.try_get::<String, _>("detail")?).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// A stored setting (e.g. routing rules edited by an administrator).
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&self.pool).await?)
    }

    /// Stores a setting, replacing any earlier value.
    pub async fn put_setting(&self, key: &str, value: &str, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        sqlx::query("DELETE FROM settings WHERE key = $1").bind(key).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO settings (key, value, actor, at) VALUES ($1, $2, $3, $4)").bind(key).bind(value).bind(actor).bind(at).execute(&mut *tx).await?;
        insert_audit(&mut tx, at, actor, "setting", None, &serde_json::json!({"key": key, "value": value})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a case to a mediator (a first assignment or a reassignment) with a new due time.
    /// Only open cases can be assigned; the case becomes `assigned`.
    pub async fn assign(&self, id: i64, mediator_id: &str, due_at: Option<DateTime<Utc>>, actor: &str, note: Option<&str>) -> Result<Case, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lock = self.row_lock();
        let row = sqlx::query(AssertSqlSafe(format!("SELECT status, mediator_id FROM cases WHERE id = $1{lock}"))).bind(id).fetch_optional(&mut *tx).await?;
        let row = row.ok_or(StoreError::NotFound(id))?;
        let from: Status = row.try_get::<String, _>("status")?.parse().map_err(corrupt)?;
        let previous: Option<String> = row.try_get("mediator_id")?;
        if !OPEN.contains(&from) {
            return Err(StoreError::Transition { id, from, to: Status::Assigned, allowed: "a case must be open to be assigned".into() });
        }
        let at = millis(now());
        sqlx::query("UPDATE cases SET mediator_id = $1, status = $2, due_at = $3, overdue_at = NULL, updated_at = $4 WHERE id = $5")
            .bind(mediator_id)
            .bind(Status::Assigned.code())
            .bind(due_at.map(millis))
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let kind = if previous.is_some() { "reassigned" } else { "assigned" };
        let detail = serde_json::json!({"from": previous, "to": mediator_id, "status_before": from, "due_at": due_at, "note": note});
        insert_event(&mut tx, id, at, actor, kind, &detail).await?;
        insert_audit(&mut tx, at, actor, "assign", Some(id), &detail).await?;
        insert_change(&mut tx, id, at).await?;
        tx.commit().await?;
        self.case(id).await
    }

    /// Adds a progress note to a case's timeline.
    pub async fn add_note(&self, id: i64, text: &str, actor: &str) -> Result<Case, StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        let n = sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(id));
        }
        let detail = serde_json::json!({"text": text});
        insert_event(&mut tx, id, at, actor, "note", &detail).await?;
        insert_audit(&mut tx, at, actor, "note", Some(id), &detail).await?;
        tx.commit().await?;
        self.case(id).await
    }

    /// Open cases per mediator: the load routing balances.
    pub async fn open_loads(&self) -> Result<HashMap<String, u32>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT mediator_id, COUNT(*) AS n FROM cases WHERE mediator_id IS NOT NULL AND status IN ({}) GROUP BY mediator_id",
            open_list()
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>("mediator_id")?, u32::try_from(r.try_get::<i64, _>("n")?).map_err(corrupt)?))).collect()
    }

    /// Open cases, soonest due first: optionally only in a region subtree, only one mediator's,
    /// only at or above a risk level, only those due before a time. At most `limit`.
    pub async fn open_cases(&self, scope: Option<&str>, mediator: Option<&str>, min_risk: Option<RiskLevel>, due_before: Option<DateTime<Utc>>, limit: i64) -> Result<Vec<Case>, StoreError> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE status IN ({})", open_list());
        let mut values = scope_clause(&mut sql, "AND", 1, scope);
        if let Some(m) = mediator {
            values.push(m.to_string());
            sql += &format!(" AND mediator_id = ${}", values.len());
        }
        if let Some(min) = min_risk {
            let levels = RiskLevel::ALL.iter().filter(|l| **l >= min).map(|l| format!("'{}'", l.code())).collect::<Vec<_>>().join(", ");
            sql += &format!(" AND COALESCE(confirmed_risk, predicted_risk) IN ({levels})");
        }
        let mut query_due = None;
        if let Some(t) = due_before {
            query_due = Some(millis(t));
            sql += &format!(" AND due_at IS NOT NULL AND due_at < ${}", values.len() + 1);
        }
        sql += &format!(" ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, received_at DESC LIMIT {}", limit.max(0));
        let mut q = values.into_iter().fold(sqlx::query(AssertSqlSafe(sql)), |q, v| q.bind(v));
        if let Some(t) = query_due {
            q = q.bind(t);
        }
        q.fetch_all(&self.pool).await?.iter().map(case_from_row).collect()
    }

    /// Marks every open case whose due time has passed (and was not marked yet) as overdue:
    /// an `overdue` event in its timeline, so supervisors are alerted and the mark is kept.
    /// Returns the cases marked.
    pub async fn mark_overdue(&self, at: DateTime<Utc>, actor: &str) -> Result<Vec<Case>, StoreError> {
        let sql = format!("SELECT id FROM cases WHERE status IN ({}) AND due_at IS NOT NULL AND due_at < $1 AND overdue_at IS NULL ORDER BY due_at LIMIT 1000", open_list());
        let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql)).bind(millis(at)).fetch_all(&self.pool).await?;
        let mut marked = Vec::new();
        for id in ids {
            let mut tx = self.pool.begin().await?;
            let t = millis(at);
            // The condition is checked again inside the transaction, so two replicas sweeping at
            // once mark a case once.
            let n = sqlx::query("UPDATE cases SET overdue_at = $1, updated_at = $1 WHERE id = $2 AND overdue_at IS NULL").bind(t).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                continue;
            }
            let c = sqlx::query(AssertSqlSafe(format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"))).bind(id).fetch_one(&mut *tx).await?;
            let c = case_from_row(&c)?;
            let detail = serde_json::json!({"due_at": c.fields.due_at, "status": c.status, "mediator": c.fields.mediator_id, "tier": c.fields.tier, "risk": c.effective_risk(), "escalate_to": "supervisor"});
            insert_event(&mut tx, id, t, actor, "overdue", &detail).await?;
            insert_audit(&mut tx, t, actor, "overdue", Some(id), &detail).await?;
            insert_change(&mut tx, id, t).await?;
            tx.commit().await?;
            marked.push(c);
        }
        Ok(marked)
    }

    /// Cases received in `[from, to)` counted by local day (UTC shifted by `utc_offset_hours`),
    /// effective type and effective risk, optionally in a region subtree.
    pub async fn day_counts(&self, scope: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>, utc_offset_hours: i64) -> Result<Vec<DayCount>, StoreError> {
        let shift = utc_offset_hours * 3_600_000;
        let mut sql = format!(
            "SELECT (received_at + {shift}) / 86400000 AS day, COALESCE(confirmed_type, predicted_type) AS t, COALESCE(confirmed_risk, predicted_risk) AS r, COUNT(*) AS n \
             FROM cases WHERE received_at >= $1 AND received_at < $2"
        );
        let values = scope_clause(&mut sql, "AND", 3, scope);
        sql += " GROUP BY 1, 2, 3";
        let q = values.into_iter().fold(sqlx::query(AssertSqlSafe(sql)).bind(millis(from)).bind(millis(to)), |q, v| q.bind(v));
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(DayCount {
                    day: r.try_get("day")?,
                    dispute_type: r.try_get("t")?,
                    risk: r.try_get::<String, _>("r")?.parse().map_err(corrupt)?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Open cases counted by region and effective type, optionally in a region subtree.
    pub async fn open_by_region_type(&self, scope: Option<&str>) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut sql = format!("SELECT COALESCE(region, '') AS region, COALESCE(confirmed_type, predicted_type) AS t, COUNT(*) AS n FROM cases WHERE status IN ({})", open_list());
        let values = scope_clause(&mut sql, "AND", 1, scope);
        sql += " GROUP BY 1, 2";
        let q = values.into_iter().fold(sqlx::query(AssertSqlSafe(sql)), |q, v| q.bind(v));
        q.fetch_all(&self.pool).await?.iter().map(|r| Ok((r.try_get("region")?, r.try_get("t")?, r.try_get("n")?))).collect()
    }

    /// Cases by id, in the order given (missing ids are skipped).
    pub async fn cases_by_ids(&self, ids: &[i64]) -> Result<Vec<Case>, StoreError> {
        let mut by_id = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let params = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let mut q = sqlx::query(AssertSqlSafe(format!("SELECT {CASE_COLUMNS} FROM cases WHERE id IN ({params})")));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let c = case_from_row(&r)?;
                by_id.insert(c.id, c);
            }
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Replaces the alerts of one day with `alerts` (re-running a night is idempotent).
    pub async fn replace_alerts(&self, day: &str, alerts: &[Alert]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM alerts WHERE day = $1").bind(day).execute(&mut *tx).await?;
        let at = millis(now());
        for a in alerts {
            sqlx::query("INSERT INTO alerts (created_at, day, region, dispute_type, observed, expected, upper, score, reason, kind, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                .bind(at)
                .bind(day)
                .bind(a.region.clone())
                .bind(a.dispute_type.clone())
                .bind(a.observed)
                .bind(a.expected)
                .bind(a.upper)
                .bind(a.score)
                .bind(a.reason.clone())
                .bind(a.kind.clone())
                .bind(a.evidence.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What the hotspot batch counts, for cases received at or after `from`, grouped by caller
    /// and in time order within each caller, so near-duplicates can be found caller by caller.
    /// The text is read only where the batch needs it: for callers with more than one case
    /// (the repeat check) and for cases received at or after `texts_from` (emerging topics).
    pub async fn case_facts(&self, from: DateTime<Utc>, texts_from: DateTime<Utc>) -> Result<Vec<CaseFactRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, received_at, region, other_regions, COALESCE(confirmed_type, predicted_type) AS t, caller_phone, \
             CASE WHEN caller_phone IN (SELECT caller_phone FROM cases WHERE received_at >= $1 AND caller_phone IS NOT NULL GROUP BY caller_phone HAVING COUNT(*) > 1) \
             OR received_at >= $2 THEN text ELSE NULL END AS text FROM cases WHERE received_at >= $1 ORDER BY caller_phone, received_at, id",
        )
        .bind(millis(from))
        .bind(millis(texts_from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseFactRow {
                    id: r.try_get("id")?,
                    received_at: r.try_get("received_at")?,
                    region: r.try_get("region")?,
                    other_regions: serde_json::from_str(&r.try_get::<String, _>("other_regions")?).unwrap_or_default(),
                    dispute_type: r.try_get("t")?,
                    caller: r.try_get("caller_phone")?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }

    /// The latest alerts (cells, topics, callers), optionally in a region subtree and of one
    /// day, newest day first and strongest first within a day.
    pub async fn alerts(&self, scope: Option<&str>, day: Option<&str>, limit: i64) -> Result<Vec<Alert>, StoreError> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE kind <> 'run'");
        let mut values = scope_clause(&mut sql, "AND", 1, scope);
        if let Some(day) = day {
            sql += &format!(" AND day = ${}", values.len() + 1);
            values.push(day.to_string());
        }
        sql += &format!(" ORDER BY day DESC, score, id LIMIT {}", limit.max(0));
        let q = values.into_iter().fold(sqlx::query(AssertSqlSafe(sql)), |q, v| q.bind(v));
        q.fetch_all(&self.pool).await?.iter().map(alert_from_row).collect()
    }

    /// The record of the hotspot run for `day` (the latest run when `None`): its summary is
    /// the evidence.
    pub async fn alert_run(&self, day: Option<&str>) -> Result<Option<Alert>, StoreError> {
        let row = match day {
            Some(day) => sqlx::query(AssertSqlSafe(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE kind = 'run' AND day = $1 ORDER BY id DESC LIMIT 1"))).bind(day.to_string()).fetch_optional(&self.pool).await?,
            None => sqlx::query(AssertSqlSafe(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE kind = 'run' ORDER BY day DESC, id DESC LIMIT 1"))).fetch_optional(&self.pool).await?,
        };
        row.as_ref().map(alert_from_row).transpose()
    }

    /// Adds or replaces one mediator of the roster.
    pub async fn put_mediator(&self, m: &Mediator, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        sqlx::query("DELETE FROM mediators WHERE id = $1").bind(m.id.clone()).execute(&mut *tx).await?;
        super::insert_mediator(&mut tx, m).await?;
        insert_audit(&mut tx, at, actor, "roster_put", None, &serde_json::to_value(m).map_err(corrupt)?).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a mediator from the roster; `false` if there was none with this id. Their open
    /// cases keep their assignment until a supervisor reassigns them.
    pub async fn delete_mediator(&self, id: &str, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM mediators WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            insert_audit(&mut tx, millis(now()), actor, "roster_delete", None, &serde_json::json!({"id": id})).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Texts whose type and risk staff confirmed or corrected (labels from imports are left
    /// out: an imported file may be an evaluation set).
    pub async fn staff_labels(&self) -> Result<Vec<StaffLabel>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.text, c.confirmed_type, c.confirmed_risk FROM cases c \
             WHERE c.confirmed_type IS NOT NULL AND c.confirmed_risk IS NOT NULL \
             AND EXISTS (SELECT 1 FROM labels l WHERE l.case_id = c.id AND l.actor <> 'import') ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StaffLabel {
                    case_id: r.try_get("id")?,
                    text: r.try_get("text")?,
                    dispute_type: r.try_get("confirmed_type")?,
                    risk: r.try_get::<String, _>("confirmed_risk")?.parse().map_err(corrupt)?,
                })
            })
            .collect()
    }
}
