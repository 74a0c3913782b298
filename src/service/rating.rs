//! Outcomes, follow-ups, star evaluations and subsidies through the service: the rules are
//! `crate::rating`'s, the records the store's. `evaluate` and `subsidies` are also what the CLI
//! prints, so both take the store and the rules rather than a signed-in user.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{CaseView, Result, Service, ServiceError, check_note};
use crate::access::{Action, Principal};
use crate::labels::{RiskLevel, Tier};
use crate::rating::{self, Figures, HandledCase, StarRules, Suggestion};
use crate::routing::Mediator;
use crate::store::{CaseStore, HandledRow, Status};

/// One mediator's evaluation for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediatorEvaluation {
    /// Roster id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Tier.
    pub tier: String,
    /// The figures.
    pub figures: Figures,
    /// The suggested grade and why.
    pub suggestion: Suggestion,
}

/// A period's evaluation of every mediator on the roster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The period as asked (`2026Q3`).
    pub period: String,
    /// First day.
    pub from: NaiveDate,
    /// Day after the last.
    pub to: NaiveDate,
    /// Mediators, by id.
    pub mediators: Vec<MediatorEvaluation>,
    /// Cases handled by mediators who are no longer on the roster (not evaluated).
    pub unknown_mediators: Vec<String>,
}

/// One paid case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaidCase {
    /// Case id.
    pub id: i64,
    /// Region.
    pub region: String,
    /// Result code.
    pub result: String,
    /// Risk code.
    pub risk: String,
    /// Tier code.
    pub tier: String,
    /// Yuan.
    pub amount: f64,
}

/// A mediator's subsidy for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediatorSubsidy {
    /// Roster id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Confirmed stars the amounts are priced at.
    pub stars: u8,
    /// Agreed cases paid.
    pub cases: Vec<PaidCase>,
    /// Sum in yuan.
    pub total: f64,
}

/// A period's subsidy report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubsidyReport {
    /// The period.
    pub period: String,
    /// Per mediator, by region then id.
    pub mediators: Vec<MediatorSubsidy>,
    /// Totals per township (the first four levels of the region path).
    pub by_township: Vec<(String, f64)>,
    /// Totals per county (the first three levels).
    pub by_county: Vec<(String, f64)>,
    /// Grand total.
    pub total: f64,
}

fn period_bounds(period: &str, utc_offset_hours: i64) -> Result<(NaiveDate, NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = rating::parse_period(period).ok_or_else(|| ServiceError::invalid("invalid_period", format!("`{period}` is not a period"), "use a quarter (2026Q3), a month (2026-07) or a year (2026)"))?;
    let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - chrono::Duration::hours(utc_offset_hours);
    Ok((from, to, at(from), at(to)))
}

fn handled(r: &HandledRow) -> HandledCase {
    let result = r.outcome.as_ref().and_then(|(code, _)| rating::Result::parse(code));
    HandledCase {
        id: r.id,
        region: r.region.clone(),
        risk: r.risk.parse().unwrap_or(RiskLevel::Blue),
        tier: r.tier.parse().unwrap_or(Tier::Village),
        result,
        days_to_outcome: r.outcome.as_ref().map(|(_, at)| (*at - r.received_at).num_minutes() as f64 / 1440.0),
        satisfaction: r.satisfaction,
        overdue: r.overdue,
        criminal: r.criminal,
    }
}

/// Every roster mediator's figures and suggested grade for `period`.
pub async fn evaluate(store: &CaseStore, roster: &[Mediator], rules: &StarRules, period: &str, utc_offset_hours: i64) -> Result<Evaluation> {
    let (from, to, start, end) = period_bounds(period, utc_offset_hours)?;
    let rows = store.handled_cases(start, end).await?;
    let mut unknown: Vec<String> = rows.iter().map(|r| r.mediator_id.clone()).filter(|id| !roster.iter().any(|m| &m.id == id)).collect();
    unknown.dedup();
    let mediators = roster
        .iter()
        .map(|m| {
            let cases: Vec<HandledCase> = rows.iter().filter(|r| r.mediator_id == m.id).map(handled).collect();
            let figures = rating::figures(&cases, rules);
            let suggestion = rating::suggest(m.stars, &figures, rules);
            MediatorEvaluation { id: m.id.clone(), name: m.name.clone(), region: m.region.to_string(), tier: m.tier.code().to_string(), figures, suggestion }
        })
        .collect();
    Ok(Evaluation { period: period.trim().to_string(), from, to, mediators, unknown_mediators: unknown })
}

/// The subsidies of `period`, priced at each mediator's confirmed stars.
pub async fn subsidies(store: &CaseStore, roster: &[Mediator], rules: &StarRules, period: &str, utc_offset_hours: i64) -> Result<SubsidyReport> {
    let (_, _, start, end) = period_bounds(period, utc_offset_hours)?;
    let rows = store.handled_cases(start, end).await?;
    let mut mediators: Vec<MediatorSubsidy> = roster
        .iter()
        .map(|m| {
            let cases: Vec<PaidCase> = rows
                .iter()
                .filter(|r| r.mediator_id == m.id)
                .filter_map(|r| {
                    let c = handled(r);
                    let amount = rating::subsidy(&c, m.stars, rules);
                    (amount > 0.0).then(|| PaidCase { id: c.id, region: c.region.clone(), result: c.result.map(|x| x.code()).unwrap_or_default().to_string(), risk: c.risk.code().to_string(), tier: c.tier.code().to_string(), amount })
                })
                .collect();
            let total = rating::cents(cases.iter().map(|c| c.amount).sum::<f64>());
            MediatorSubsidy { id: m.id.clone(), name: m.name.clone(), region: m.region.to_string(), stars: m.stars, cases, total }
        })
        .collect();
    mediators.sort_by(|a, b| a.region.cmp(&b.region).then(a.id.cmp(&b.id)));
    let paid = || mediators.iter().flat_map(|m| m.cases.iter().map(|c| (c.region.as_str(), c.amount)));
    let round = |m: std::collections::BTreeMap<String, f64>| m.into_iter().map(|(k, v)| (k, rating::cents(v))).collect();
    let by_township = round(rating::totals_by_region(paid(), 4));
    let by_county = round(rating::totals_by_region(paid(), 3));
    let total = rating::cents(paid().map(|(_, a)| a).sum::<f64>());
    Ok(SubsidyReport { period: period.trim().to_string(), mediators, by_township, by_county, total })
}

/// The subsidy report as CSV that opens in Excel (UTF-8 with a byte-order mark): one row per
/// paid case, then the totals.
pub fn subsidy_csv(r: &SubsidyReport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["期间", "调解员编号", "调解员", "星级", "地区", "案件编号", "结果", "风险", "层级", "金额（元）"]);
    for m in &r.mediators {
        for c in &m.cases {
            let _ = w.write_record([r.period.as_str(), &m.id, &m.name, &m.stars.to_string(), &c.region, &c.id.to_string(), &c.result, &c.risk, &c.tier, &format!("{:.2}", c.amount)]);
        }
    }
    for (label, rows) in [("乡镇合计", &r.by_township), ("县级合计", &r.by_county)] {
        for (region, amount) in rows {
            let _ = w.write_record([r.period.as_str(), label, "", "", region, "", "", "", "", &format!("{amount:.2}")]);
        }
    }
    let _ = w.write_record([r.period.as_str(), "总计", "", "", "", "", "", "", "", &format!("{:.2}", r.total)]);
    let body = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    format!("\u{feff}{body}")
}

/// The subsidy report as a self-contained HTML page.
pub fn subsidy_html(r: &SubsidyReport) -> String {
    let e = crate::text::escape_html;
    let mut s = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>以奖代补 {p}</title><style>body{{font-family:system-ui,\"Microsoft YaHei\",sans-serif;margin:2em auto;max-width:900px}}td,th{{border-bottom:1px solid #ddd;padding:.2em .5em;text-align:left}}td.n{{text-align:right}}table{{border-collapse:collapse;margin-bottom:1.5em}}</style></head><body><h1>人民调解以奖代补 · {p}</h1><p>合计 {t:.2} 元</p>",
        p = e(&r.period),
        t = r.total
    );
    for (title, rows) in [("按乡镇", &r.by_township), ("按县", &r.by_county)] {
        s += &format!("<h2>{title}</h2><table><tr><th>地区</th><th>金额（元）</th></tr>");
        for (region, amount) in rows {
            s += &format!("<tr><td>{}</td><td class=\"n\">{amount:.2}</td></tr>", e(region));
        }
        s += "</table>";
    }
    s += "<h2>按调解员</h2><table><tr><th>调解员</th><th>星级</th><th>地区</th><th>案件</th><th>金额（元）</th></tr>";
    for m in &r.mediators {
        s += &format!("<tr><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{:.2}</td></tr>", e(&m.id), e(&m.name), m.stars, e(&m.region), m.cases.len(), m.total);
    }
    s + "</table></body></html>\n"
}

impl Service {
    /// Records how a mediation ended (written or oral agreement, failed, escalated): the case
    /// moves to resolved, failed or escalated, with the result kept for ratings.
    pub async fn outcome(&self, p: &Principal, id: i64, result: &str, note: Option<&str>) -> Result<CaseView> {
        self.require(p, Action::Transition, "record an outcome")?;
        let result = rating::Result::parse(result).ok_or_else(|| ServiceError::invalid("unknown_label", format!("result `{result}` is not known"), "use written, oral, failed or escalated"))?;
        let note = check_note(note)?;
        let case = self.reachable_case(p, id).await?;
        // An outcome on a case still waiting to be started starts it first (two steps on the
        // timeline, as if the mediator had pressed both).
        if case.status == Status::Assigned {
            self.store.transition(id, Status::InProgress, &p.name, None).await?;
        }
        let to = match result {
            rating::Result::Written | rating::Result::Oral => Status::Resolved,
            rating::Result::Failed => Status::Failed,
            rating::Result::Escalated => Status::Escalated,
        };
        let c = self.store.transition_with(id, to, &p.name, note, Some(("outcome", serde_json::json!({"result": result.code(), "note": note})))).await?;
        self.refresh_loads_logged().await;
        self.index_wanted.notify_one();
        Ok(self.view(&c, false))
    }

    /// Records the follow-up call: satisfaction 1–5 and whether the dispute turned criminal.
    pub async fn follow_up(&self, p: &Principal, id: i64, satisfaction: Option<u8>, criminal: bool, note: Option<&str>) -> Result<CaseView> {
        self.require(p, Action::Transition, "record a follow-up")?;
        if satisfaction.is_some_and(|s| !(1..=5).contains(&s)) {
            return Err(ServiceError::invalid("invalid_satisfaction", "satisfaction must be 1 to 5", "1 is very dissatisfied, 5 very satisfied"));
        }
        if satisfaction.is_none() && !criminal {
            return Err(ServiceError::invalid("empty_follow_up", "neither a satisfaction score nor a criminal turn was given", "send `satisfaction` (1-5) and/or `criminal: true`"));
        }
        let note = check_note(note)?;
        self.reachable_case(p, id).await?;
        let c = self.store.follow_up(id, satisfaction, criminal, note, &p.name).await?;
        Ok(self.view(&c, false))
    }

    /// Every mediator's figures and suggested stars for a period.
    pub async fn star_evaluation(&self, p: &Principal, period: &str) -> Result<Evaluation> {
        self.require(p, Action::EditRoster, "evaluate mediators")?;
        let roster = self.pipeline().roster().mediators().to_vec();
        evaluate(&self.store, &roster, &self.star_rules, period, self.sla.utc_offset_hours).await
    }

    /// Confirms (setting the roster's stars, which routing uses at once) or rejects a grade.
    pub async fn decide_stars(&self, p: &Principal, mediator_id: &str, confirm: bool, stars: u8, period: &str, note: Option<&str>) -> Result<()> {
        self.require(p, Action::EditRoster, "confirm or reject star grades")?;
        if !(1..=5).contains(&stars) {
            return Err(ServiceError::invalid("invalid_stars", format!("stars must be 1 to 5, not {stars}"), "send the suggested grade"));
        }
        let note = check_note(note)?;
        let (from, to, _, _) = period_bounds(period, self.sla.utc_offset_hours)?;
        // One confirmed grade per mediator for any stretch of time: a period that overlaps one
        // already confirmed (2026-08 inside 2026Q3, or 2026Q3 twice) is refused.
        if confirm {
            for e in self.store.mediator_events(Some(mediator_id)).await?.iter().filter(|e| e.kind == "stars_confirmed") {
                let Some(earlier) = e.detail["period"].as_str() else { continue };
                if let Some((a, b)) = rating::parse_period(earlier) {
                    if a < to && from < b {
                        return Err(ServiceError::Conflict {
                            code: "overlapping_period",
                            message: format!("{mediator_id} already has a grade confirmed for {earlier}, which overlaps {}", period.trim()),
                            hint: "grade each mediator once per period; choose a period that does not overlap".into(),
                        });
                    }
                }
            }
        }
        let detail = serde_json::json!({"period": period.trim(), "suggested": stars, "note": note});
        match self.store.star_decision(mediator_id, confirm, stars, &detail, &p.name).await {
            Err(crate::store::StoreError::NoMediator(m)) => return Err(ServiceError::NotFound(format!("mediator `{m}` is not on the roster"))),
            other => other?,
        }
        self.reload_roster().await
    }

    /// The star decisions on record.
    pub async fn star_history(&self, p: &Principal, mediator_id: Option<&str>) -> Result<Vec<crate::store::MediatorEvent>> {
        self.require(p, Action::ReadRoster, "read star decisions")?;
        Ok(self.store.mediator_events(mediator_id).await?)
    }

    /// The subsidy report of a period.
    pub async fn subsidies(&self, p: &Principal, period: &str) -> Result<SubsidyReport> {
        self.require(p, Action::EditRoster, "read subsidies")?;
        let roster = self.pipeline().roster().mediators().to_vec();
        subsidies(&self.store, &roster, &self.star_rules, period, self.sla.utc_offset_hours).await
    }
}
