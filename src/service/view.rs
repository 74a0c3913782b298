//! A case as a user sees it: effective labels with their names, the next allowed statuses,
//! whether it is overdue, and personal data masked unless the user may and asked to see it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::labels::{RiskLevel, Tier};
use crate::store::{Case, OPEN, Status};
use crate::text::mask_all;

/// The Chinese name of a status.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::New => "新建",
        Status::Assigned => "已分派",
        Status::InProgress => "处理中",
        Status::Resolved => "已化解",
        Status::Failed => "调解不成",
        Status::Escalated => "已上报",
        Status::Closed => "已结案",
    }
}

/// Masks phone and ID numbers in a search snippet. Snippets are HTML with `<b>` around matched
/// words; a number may be split by those tags, so the digits are found with the tags removed
/// and masked in place.
pub fn mask_snippet(html: &str) -> String {
    // The characters outside the tags, with their byte offsets in the snippet.
    let mut plain = String::with_capacity(html.len());
    let mut offsets = Vec::with_capacity(html.len());
    let mut at = 0;
    while at < html.len() {
        let rest = &html[at..];
        if let Some(tag) = ["<b>", "</b>"].into_iter().find(|t| rest.starts_with(t)) {
            at += tag.len();
            continue;
        }
        let c = rest.chars().next().expect("not at the end");
        plain.push(c);
        offsets.push(at);
        at += c.len_utf8();
    }
    let spans = crate::text::find_personal_data(&plain);
    if spans.is_empty() {
        return html.to_string();
    }
    // Masking replaces characters one for one, so the masked text lines up with the plain text.
    let masked = crate::text::mask(&plain, &spans);
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    for ((p, m), &offset) in plain.chars().zip(masked.chars()).zip(&offsets) {
        if p != m {
            out.push_str(&html[copied..offset]);
            out.push(m);
            copied = offset + p.len_utf8();
        }
    }
    out.push_str(&html[copied..]);
    out
}

/// A case for display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseView {
    /// Case id.
    pub id: i64,
    /// Id in the source system.
    pub external_id: Option<String>,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// Channel.
    pub channel: String,
    /// Caller's name (surname only when masked).
    pub caller_name: Option<String>,
    /// Caller's phone (masked unless shown in full).
    pub caller_phone: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Further regions of a cross-region dispute.
    pub other_regions: Vec<String>,
    /// Address.
    pub address: Option<String>,
    /// The complaint (phone and ID numbers masked unless shown in full).
    pub text: String,
    /// Effective type.
    #[serde(rename = "type")]
    pub dispute_type: String,
    /// Its name.
    pub type_name: String,
    /// Effective risk.
    pub risk: RiskLevel,
    /// Its name.
    pub risk_name: String,
    /// Model's type.
    pub predicted_type: String,
    /// Its probability.
    pub predicted_type_prob: f64,
    /// Model's risk (with cues and history).
    pub predicted_risk: RiskLevel,
    /// Staff's type.
    pub confirmed_type: Option<String>,
    /// Staff's risk.
    pub confirmed_risk: Option<RiskLevel>,
    /// Risk reasons.
    pub reasons: Vec<String>,
    /// Tier.
    pub tier: Tier,
    /// Tier name.
    pub tier_name: String,
    /// Mediator id.
    pub mediator_id: Option<String>,
    /// Mediator name.
    pub mediator_name: Option<String>,
    /// Status.
    pub status: Status,
    /// Status name.
    pub status_name: String,
    /// Statuses it may move to.
    pub next: Vec<Status>,
    /// Due time.
    pub due_at: Option<DateTime<Utc>>,
    /// Open and past its due time.
    pub overdue: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Whether personal data is masked in this view.
    pub masked: bool,
}

fn mask_phone(digits: &str) -> String {
    let n = digits.chars().count();
    digits.chars().enumerate().map(|(i, c)| if i >= 3 && i + 4 < n { '*' } else { c }).collect()
}

fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

impl CaseView {
    /// The view of a case at time `now`.
    pub fn new(c: &Case, mediator_name: Option<String>, unmasked: bool, now: DateTime<Utc>) -> CaseView {
        let f = &c.fields;
        let risk = c.effective_risk();
        CaseView {
            id: c.id,
            external_id: f.external_id.clone(),
            received_at: f.received_at,
            channel: f.channel.clone(),
            caller_name: f.caller_name.as_deref().map(|n| if unmasked { n.to_string() } else { mask_name(n) }),
            caller_phone: f.caller_phone.as_deref().map(|p| if unmasked { p.to_string() } else { mask_phone(p) }),
            region: f.region.clone(),
            other_regions: f.other_regions.clone(),
            address: f.address.clone(),
            text: if unmasked { f.text.clone() } else { mask_all(&f.text) },
            dispute_type: c.effective_type().to_string(),
            type_name: crate::triage::type_name(c.effective_type()).to_string(),
            risk,
            risk_name: risk.chinese().to_string(),
            predicted_type: f.predicted_type.clone(),
            predicted_type_prob: f.predicted_type_prob,
            predicted_risk: f.predicted_risk,
            confirmed_type: f.confirmed_type.clone(),
            confirmed_risk: f.confirmed_risk,
            reasons: f.reasons.iter().map(|r| if unmasked { r.clone() } else { mask_all(r) }).collect(),
            tier: f.tier,
            tier_name: f.tier.chinese().to_string(),
            mediator_id: f.mediator_id.clone(),
            mediator_name,
            status: c.status,
            status_name: status_name(c.status).to_string(),
            next: c.status.next().to_vec(),
            due_at: f.due_at,
            overdue: OPEN.contains(&c.status) && f.due_at.is_some_and(|d| d < now),
            updated_at: c.updated_at,
            masked: !unmasked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mask_numbers_even_across_highlight_tags() {
        assert_eq!(mask_snippet("拖欠<b>工资</b>，电话13812345678"), "拖欠<b>工资</b>，电话138****5678");
        assert_eq!(mask_snippet("电话<b>13812345678</b>找我"), "电话<b>138****5678</b>找我");
        assert_eq!(mask_snippet("电话138<b>1234</b>5678"), "电话138<b>****</b>5678");
        assert_eq!(mask_snippet("没有号码 &amp; <b>欠薪</b>"), "没有号码 &amp; <b>欠薪</b>");
    }

    #[test]
    fn phones_and_names_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("85123456"), "851*3456");
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
    }
}
