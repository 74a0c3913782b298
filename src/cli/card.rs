//! The readable triage card printed by `fengqiao triage`.

use std::fmt::Write;

use crate::triage::Triage;

/// A probability as a person reads it; rounding must not claim certainty the model lacks.
fn percent(p: f32) -> String {
    if p >= 0.995 { ">99%".to_string() } else if p < 0.005 { "<1%".to_string() } else { format!("{:.0}%", p * 100.0) }
}

/// Renders a triage result for a person at a terminal.
pub fn render(triage: &Triage) -> String {
    let t = &triage.assessment;
    let mut s = String::new();
    let _ = writeln!(s, "── 分流结果 ─────────────────────────────");
    let d = &t.dispute_type;
    let _ = writeln!(s, "纠纷类型  {}（{}）  可信度 {}", d.name, d.label, percent(d.probability));
    if !d.terms.is_empty() {
        let _ = writeln!(s, "          依据：{}", d.terms.join("、"));
    }
    let mut others: Vec<(&String, &f32)> = d.probabilities.iter().filter(|(l, _)| **l != d.label).collect();
    others.sort_by(|a, b| b.1.total_cmp(a.1));
    if let Some((l, p)) = others.first().filter(|(_, p)| **p >= 0.15) {
        let _ = writeln!(s, "          其次可能：{}（{}）", crate::triage::type_name(l), percent(**p));
    }
    let r = &t.risk;
    let _ = writeln!(s, "风险等级  {}（{}）", r.name, r.level);
    for reason in &r.reasons {
        let _ = writeln!(s, "          · [{}] {}", reason.level.chinese(), reason.text);
    }
    if let Some(p) = t.people {
        let _ = writeln!(s, "涉及人数  约{p}");
    }
    let route = &triage.routing;
    let _ = write!(s, "调处层级  {}（{}）", route.tier.chinese(), route.tier);
    if let Some(sp) = &route.specialty {
        let _ = write!(s, "  专业：{}", crate::triage::type_name(sp));
    }
    let _ = writeln!(s);
    match &route.mediator {
        Some(m) => {
            let _ = writeln!(s, "推荐调解员 {}（{}星，{}，在办{}/{}）", m.name, m.stars, m.region, m.load, m.capacity);
        }
        None => {
            let _ = writeln!(s, "推荐调解员 无符合条件者，请人工指派");
        }
    }
    if let Some(up) = route.escalated_to {
        let _ = writeln!(s, "          本级无人可派，转{}", up.chinese());
    }
    for reason in &route.reasons {
        let _ = writeln!(s, "          · {reason}");
    }
    if !t.related.is_empty() {
        let _ = writeln!(s, "相关案件  {}件", t.related.len());
        for r in t.related.iter().take(5) {
            let relation = match r.relation {
                "same_phone" => "同一来电人",
                "same_address" => "同一地址",
                _ => "相似投诉",
            };
            let _ = writeln!(s, "          · #{} {} {} {} {} {}", r.id, &r.received[..10.min(r.received.len())], relation, crate::triage::type_name(&r.dispute_type), r.risk.chinese(), r.excerpt);
        }
    }
    if !t.personal_data.is_empty() {
        let _ = writeln!(s, "个人信息  识别到{}处电话/身份证号，对无权限角色脱敏显示", t.personal_data.len());
    }
    if t.region.is_none() {
        let _ = writeln!(s, "提示      未提供案发地区（--region），调解员按本级全部人员比较");
    }
    s
}
