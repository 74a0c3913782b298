//! What the star ratings read and write: outcomes and follow-ups as case events, each mediator's
//! cases of a period with their outcomes, and star decisions as mediator events (who, when,
//! why), a confirmed one changing the roster's stars in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{CaseStore, Status, StoreError, corrupt, from_millis as time, insert_event, millis, now, work};

/// A mediator's case in a period, with what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct HandledRow {
    /// Case id.
    pub id: i64,
    /// Mediator.
    pub mediator_id: String,
    /// Region path.
    pub region: String,
    /// Effective risk code.
    pub risk: String,
    /// Tier code.
    pub tier: String,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// Whether it went past its due time.
    pub overdue: bool,
    /// The latest outcome: result code and when.
    pub outcome: Option<(String, DateTime<Utc>)>,
    /// The latest satisfaction score from a follow-up.
    pub satisfaction: Option<u8>,
    /// Whether a follow-up flagged a criminal turn (民转刑).
    pub criminal: bool,
}

/// A star decision or suggestion on record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediatorEvent {
    /// Mediator.
    pub mediator_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// `stars_confirmed` or `stars_rejected`.
    pub kind: String,
    /// Period, from and to stars, reasons, the administrator's note.
    pub detail: serde_json::Value,
}

impl CaseStore {
    /// Records a follow-up on a closed-out case: the parties' satisfaction (1–5) and whether the
    /// dispute has since turned criminal. Refused while the case is still open.
    pub async fn follow_up(&self, id: i64, satisfaction: Option<u8>, criminal: bool, note: Option<&str>, actor: &str) -> Result<super::Case, StoreError> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM cases WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
        let status: Status = status.ok_or(StoreError::NotFound(id))?.parse().map_err(corrupt)?;
        if super::work::OPEN.contains(&status) {
            return Err(StoreError::Transition { id, from: status, to: status, allowed: "a follow-up comes after an outcome (resolved, failed or escalated)".into() });
        }
        let at = millis(now());
        let detail = serde_json::json!({"satisfaction": satisfaction, "criminal": criminal, "note": note});
        sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *tx).await?;
        insert_event(&mut tx, id, at, actor, "follow_up", &detail).await?;
        work::insert_audit(&mut tx, at, actor, "follow_up", Some(id), &detail).await?;
        tx.commit().await?;
        self.case(id).await
    }

    /// Adds an event to a case's timeline (and the audit log), e.g. the regions told of a
    /// cross-region case.
    pub async fn add_event(&self, id: i64, kind: &str, detail: &serde_json::Value, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        insert_event(&mut tx, id, at, actor, kind, detail).await?;
        work::insert_audit(&mut tx, at, actor, kind, Some(id), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cases received in `[from, to)` that a mediator handled, with their latest outcome,
    /// satisfaction and criminal flag, ordered by mediator and id.
    pub async fn handled_cases(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<HandledRow>, StoreError> {
        let cases = sqlx::query(
            "SELECT id, mediator_id, region, COALESCE(confirmed_risk, predicted_risk) AS risk, tier, received_at, overdue_at FROM cases \
             WHERE received_at >= $1 AND received_at < $2 AND mediator_id IS NOT NULL ORDER BY mediator_id, id",
        )
        .bind(millis(from))
        .bind(millis(to))
        .fetch_all(&self.pool)
        .await?;
        let mut rows = Vec::with_capacity(cases.len());
        let mut index = std::collections::HashMap::new();
        for r in &cases {
            let id: i64 = r.try_get("id")?;
            index.insert(id, rows.len());
            rows.push(HandledRow {
                id,
                mediator_id: r.try_get("mediator_id")?,
                region: r.try_get::<Option<String>, _>("region")?.unwrap_or_default(),
                risk: r.try_get("risk")?,
                tier: r.try_get("tier")?,
                received_at: time(r.try_get("received_at")?),
                overdue: r.try_get::<Option<i64>, _>("overdue_at")?.is_some(),
                outcome: None,
                satisfaction: None,
                criminal: false,
            });
        }
        let events = sqlx::query(
            "SELECT e.case_id, e.kind, e.at, e.detail FROM case_events e JOIN cases c ON c.id = e.case_id \
             WHERE c.received_at >= $1 AND c.received_at < $2 AND c.mediator_id IS NOT NULL AND e.kind IN ('outcome', 'follow_up') ORDER BY e.id",
        )
        .bind(millis(from))
        .bind(millis(to))
        .fetch_all(&self.pool)
        .await?;
        for e in &events {
            let Some(&i) = index.get(&e.try_get::<i64, _>("case_id")?) else { continue };
            let detail: serde_json::Value = serde_json::from_str(&e.try_get::<String, _>("detail")?).map_err(corrupt)?;
            let row = &mut rows[i];
            match e.try_get::<String, _>("kind")?.as_str() {
                "outcome" => row.outcome = detail["result"].as_str().map(|r| (r.to_string(), time(e.try_get("at").unwrap_or_default()))),
                _ => {
                    if let Some(s) = detail["satisfaction"].as_u64() {
                        row.satisfaction = Some(s.min(5) as u8);
                    }
                    row.criminal |= detail["criminal"].as_bool().unwrap_or(false);
                }
            }
        }
        Ok(rows)
    }

    /// Records an administrator's decision on a suggested grade; a confirmation sets the
    /// roster's stars in the same transaction.
    pub async fn star_decision(&self, mediator_id: &str, confirm: bool, stars: u8, detail: &serde_json::Value, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = millis(now());
        let current: Option<i64> = sqlx::query_scalar("SELECT stars FROM mediators WHERE id = $1").bind(mediator_id).fetch_optional(&mut *tx).await?;
        let Some(current) = current else {
            return Err(StoreError::NoMediator(mediator_id.to_string()));
        };
        let mut detail = detail.clone();
        detail["from"] = serde_json::json!(current);
        detail["to"] = serde_json::json!(if confirm { stars as i64 } else { current });
        let kind = if confirm { "stars_confirmed" } else { "stars_rejected" };
        if confirm {
            sqlx::query("UPDATE mediators SET stars = $1 WHERE id = $2").bind(stars as i64).bind(mediator_id).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO mediator_events (mediator_id, at, actor, kind, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(mediator_id)
            .bind(at)
            .bind(actor)
            .bind(kind)
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
        work::insert_audit(&mut tx, at, actor, kind, None, &serde_json::json!({"mediator": mediator_id, "detail": detail})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Star decisions, newest first (one mediator's, or everyone's).
    pub async fn mediator_events(&self, mediator_id: Option<&str>) -> Result<Vec<MediatorEvent>, StoreError> {
        let rows = match mediator_id {
            Some(m) => sqlx::query("SELECT mediator_id, at, actor, kind, detail FROM mediator_events WHERE mediator_id = $1 ORDER BY id DESC").bind(m.to_string()).fetch_all(&self.pool).await?,
            None => sqlx::query("SELECT mediator_id, at, actor, kind, detail FROM mediator_events ORDER BY id DESC LIMIT 1000").fetch_all(&self.pool).await?,
        };
        rows.iter()
            .map(|r| {
                Ok(MediatorEvent {
                    mediator_id: r.try_get("mediator_id")?,
                    at: time(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    kind: r.try_get("kind")?,
                    detail: serde_json::from_str(&r.try_get::<String, _>("detail")?).map_err(corrupt)?,
                })
            })
            .collect()
    }
}
