//! One night's findings as data ([`NightReport`], written as the JSON file) and as a
//! self-contained HTML page: one chart per alert (the cell's counts against the expected band,
//! inline SVG), the emerging topics with example cases, and the repeat callers. No scripts, no
//! external files: the page opens from a mail attachment or a shared folder. Pure: the batch
//! writes the files.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::callers::RepeatCaller;
use super::nightly::{Alert, ChartDay};
use super::terms::Topic;

/// One alert as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertReport {
    /// Region path.
    pub region: String,
    /// Dispute type code, `None` for all types.
    #[serde(rename = "type")]
    pub dispute_type: Option<String>,
    /// Cases on the night's day.
    pub observed: u32,
    /// Distinct callers over the alert's window.
    pub callers: u32,
    /// Cases expected on the day.
    pub expected: f64,
    /// The largest count inside the expected band.
    pub upper: u32,
    /// Days of the window that carries the signal (1: the day alone).
    pub window: usize,
    /// Cases in that window.
    pub window_observed: u32,
    /// Cases expected in that window.
    pub window_expected: f64,
    /// Combined p-value.
    pub p: f64,
    /// BH q-value.
    pub q: f64,
    /// Significant cells below it that did not explain all of it (`region|type`).
    pub children: Vec<String>,
    /// Why, in words (stored with the alert).
    pub reason: String,
    /// Daily counts and the expected band, oldest first.
    pub chart: Vec<ChartPoint>,
}

/// One day of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    /// YYYY-MM-DD.
    pub date: String,
    /// Cases counted.
    pub observed: u32,
    /// Cases expected.
    pub expected: f64,
    /// Top of the expected band.
    pub upper: u32,
}

/// Everything one night found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NightReport {
    /// The day tested (YYYY-MM-DD, local).
    pub day: String,
    /// When the run finished (RFC 3339).
    pub generated_at: String,
    /// Cases read from the store (the history the run looked at).
    pub cases_read: usize,
    /// Of those, near-duplicates of the same caller counted once.
    pub repeats: usize,
    /// Of those, cases without a region (not counted in cells).
    pub without_region: usize,
    /// Cells with at least one case in the history.
    pub cells: usize,
    /// Rising cells, strongest first.
    pub alerts: Vec<AlertReport>,
    /// Emerging topics of the week ending on the day.
    pub topics: Vec<Topic>,
    /// Repeat callers as of the day.
    pub callers: Vec<RepeatCaller>,
    /// Things the reader should know about the run (a calendar that does not cover the year…).
    pub warnings: Vec<String>,
    /// Wall time of the run in seconds.
    pub seconds: f64,
    /// Seconds per phase (read, repeats, count, detect, topics, callers, store).
    #[serde(default)]
    pub phases: Vec<(String, f64)>,
    /// When the page shows one region's alerts only, that region (the run's figures above are
    /// then left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

pub use super::calendar::date_of;

fn cell_name(region: &str, dispute_type: Option<&str>) -> String {
    format!("{}·{}", region, dispute_type.map(crate::triage::type_name).unwrap_or("全部类型"))
}

impl AlertReport {
    /// The report of an alert, with the sentence stored beside it.
    pub fn new(a: &Alert) -> AlertReport {
        let window = if a.window > 1 { format!("近 {} 天累计 {} 例，预期 {:.1} 例；", a.window, a.window_observed, a.window_expected) } else { String::new() };
        let children = if a.children.is_empty() { String::new() } else { format!("；下级同时升高：{}", a.children.iter().map(|c| cell_name(&c.region, c.dispute_type.as_deref())).collect::<Vec<_>>().join("、")) };
        let reason = format!("{window}当天 {} 例（{} 位来电人），预期 {:.1} 例，上限 {}；q = {:.2e}{children}", a.observed, a.callers, a.expected, a.upper, a.q);
        AlertReport {
            region: a.cell.region.clone(),
            dispute_type: a.cell.dispute_type.clone(),
            observed: a.observed,
            callers: a.callers,
            expected: a.expected,
            upper: a.upper,
            window: a.window,
            window_observed: a.window_observed,
            window_expected: a.window_expected,
            p: a.p,
            q: a.q,
            children: a.children.iter().map(|c| c.to_string()).collect(),
            reason,
            chart: a.chart.iter().map(|d: &ChartDay| ChartPoint { date: date_of(d.day).format("%Y-%m-%d").to_string(), observed: d.observed, expected: d.expected, upper: d.upper }).collect(),
        }
    }
}

use crate::text::escape_html as escape;

/// An inline SVG: bars for the daily counts (the last day red), the expected count as a line
/// and the band up to the upper bound shaded.
fn chart(points: &[ChartPoint]) -> String {
    let (w, h, left, bottom) = (640.0, 160.0, 34.0, 20.0);
    let top = points.iter().map(|p| p.observed.max(p.upper) as f64).fold(1.0, f64::max) * 1.1;
    let n = points.len().max(1) as f64;
    let step = (w - left) / n;
    let y = |v: f64| (h - bottom) - v / top * (h - bottom - 6.0);
    let mut svg = String::new();
    let _ = write!(svg, r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="每日案件数与预期范围">"#);
    // The band: from 0 to the upper bound, as a step polygon.
    let mut band = format!("{left},{}", y(0.0));
    for (i, p) in points.iter().enumerate() {
        let x0 = left + i as f64 * step;
        let _ = write!(band, " {x0:.1},{:.1} {:.1},{:.1}", y(p.upper as f64), x0 + step, y(p.upper as f64));
    }
    let _ = write!(band, " {:.1},{}", left + n * step, y(0.0));
    let _ = write!(svg, r##"<polygon points="{band}" fill="#dbe8f5"/>"##);
    for (i, p) in points.iter().enumerate() {
        let x0 = left + i as f64 * step + step * 0.15;
        let colour = if i + 1 == points.len() { "#c0392b" } else if p.observed > p.upper { "#e67e22" } else { "#5d6d7e" };
        let _ = write!(svg, r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{} 实际 {} 预期 {:.1} 上限 {}</title></rect>"#, y(p.observed as f64), step * 0.7, (y(0.0) - y(p.observed as f64)).max(0.0), p.date, p.observed, p.expected, p.upper);
    }
    let line: Vec<String> = points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", left + (i as f64 + 0.5) * step, y(p.expected))).collect();
    let _ = write!(svg, r##"<polyline points="{}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>"##, line.join(" "));
    let _ = write!(svg, r##"<line x1="{left}" y1="{0}" x2="{w}" y2="{0}" stroke="#888"/><text x="2" y="{1:.1}" font-size="10">{2:.0}</text><text x="2" y="{0}" font-size="10">0</text>"##, y(0.0), y(top / 1.1) + 4.0, top / 1.1);
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(svg, r#"<text x="{left}" y="{h}" font-size="10">{}</text><text x="{w}" y="{h}" font-size="10" text-anchor="end">{}</text>"#, first.date, last.date);
    }
    svg.push_str("</svg>");
    svg
}

/// The self-contained HTML page of a night.
pub fn html(r: &NightReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>矛盾纠纷热点日报 {day}</title><style>
body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:760px;color:#222;line-height:1.5}}
h1{{font-size:1.5em}}h2{{border-bottom:1px solid #ccc;margin-top:2em}}.alert{{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}}
.muted{{color:#666;font-size:.9em}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #eee;padding:.25em .4em;text-align:left;vertical-align:top}}
.legend span{{display:inline-block;width:1em;height:.7em;margin:0 .3em 0 1em}}</style></head><body>
<h1>矛盾纠纷热点日报 · {day}</h1>
"#,
        day = escape(&r.day),
    );
    match &r.scope {
        Some(scope) => {
            let _ = write!(s, r#"<p class="muted">辖区：{}（仅显示本辖区的预警）；批处理生成于 {}。</p>"#, escape(scope), escape(&r.generated_at));
        }
        None => {
            let _ = write!(
                s,
                r#"<p class="muted">读取 {} 件案件（同一来电人 30 天内重复反映同一事项 {} 件只计一次；{} 件无地区未计入），{} 个统计单元（地区各级 × 类型），用时 {:.1} 秒；生成于 {}。</p>"#,
                r.cases_read,
                r.repeats,
                r.without_region,
                r.cells,
                r.seconds,
                escape(&r.generated_at)
            );
        }
    }
    for w in &r.warnings {
        let _ = write!(s, "<p><strong>注意：</strong>{}</p>", escape(w));
    }
    let _ = write!(s, "<h2>异常升高（{}）</h2>", r.alerts.len());
    if r.alerts.is_empty() {
        s.push_str("<p>今日没有地区或类型的案件数超出预期范围。</p>");
    } else {
        s.push_str(r##"<p class="legend muted">图例：<span style="background:#dbe8f5"></span>预期范围<span style="background:#1f4e79;height:2px"></span>预期数<span style="background:#5d6d7e"></span>每日案件数<span style="background:#c0392b"></span>当日</p>"##);
    }
    for a in &r.alerts {
        let _ = write!(s, r#"<div class="alert"><h3>{}</h3><p>{}</p>{}</div>"#, escape(&cell_name(&a.region, a.dispute_type.as_deref())), escape(&a.reason), chart(&a.chart));
    }
    let _ = write!(s, "<h2>新出现的话题（{}）</h2>", r.topics.len());
    if r.topics.is_empty() {
        s.push_str("<p>本周没有用词明显增多的话题。</p>");
    }
    for t in &r.topics {
        let terms: Vec<String> = t.terms.iter().map(|x| format!("{}（本周 {} 人，此前八周 {} 人）", x.word, x.current, x.baseline)).collect();
        let regions: Vec<String> = t.regions.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let types: Vec<String> = t.types.iter().map(|(c, n)| format!("{} {n}", crate::triage::type_name(c))).collect();
        let _ = write!(s, r#"<div class="alert"><h3>{}</h3><p>本周 {} 件、{} 位来电人。用词：{}</p><p class="muted">地区：{}；类型：{}</p><ul>"#, escape(&t.label.join(" · ")), t.cases, t.callers, escape(&terms.join("、")), escape(&regions.join("，")), escape(&types.join("，")));
        for e in &t.examples {
            let _ = write!(s, "<li>#{} {}：{}</li>", e.id, escape(&e.region), escape(&e.excerpt));
        }
        s.push_str("</ul></div>");
    }
    let _ = write!(s, "<h2>重复来电（{}）</h2>", r.callers.len());
    if r.callers.is_empty() {
        s.push_str("<p>没有需要关注的重复来电人。</p>");
    } else {
        s.push_str("<table><tr><th>来电人</th><th>7/30/90 天</th><th>原因</th><th>类型</th><th>地区</th><th>案件</th></tr>");
        for c in &r.callers {
            let types: Vec<&str> = c.types.iter().map(|t| crate::triage::type_name(t)).collect();
            let cases: Vec<String> = c.cases.iter().map(|i| format!("#{i}")).collect();
            let _ = write!(s, "<tr><td>{}</td><td>{}/{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(&c.caller), c.calls[0], c.calls[1], c.calls[2], escape(&c.reason), escape(&types.join("、")), escape(&c.regions.join("、")), cases.join(" "));
        }
        s.push_str("</table>");
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> NightReport {
        NightReport {
            day: "2026-03-02".into(),
            generated_at: "2026-03-03T02:00:05+08:00".into(),
            cases_read: 100,
            repeats: 3,
            without_region: 1,
            cells: 40,
            alerts: vec![AlertReport {
                region: "浙江省/绍兴市/诸暨市/枫桥镇/枫源村".into(),
                dispute_type: Some("labor".into()),
                observed: 12,
                callers: 11,
                expected: 0.4,
                upper: 2,
                window: 1,
                window_observed: 12,
                window_expected: 0.4,
                p: 1e-9,
                q: 1e-7,
                children: vec![],
                reason: "当天 12 例 <script>".into(),
                chart: (0..56).map(|i| ChartPoint { date: format!("d{i}"), observed: if i == 55 { 12 } else { i % 2 }, expected: 0.4, upper: 2 }).collect(),
            }],
            topics: vec![],
            callers: vec![],
            warnings: vec!["节假日表未包含 2027 年".into()],
            seconds: 1.5,
            phases: vec![],
            scope: None,
        }
    }

    #[test]
    fn the_page_has_a_chart_per_alert_and_escapes_text() {
        let page = html(&report());
        assert_eq!(page.matches("<svg").count(), 1);
        assert_eq!(page.matches("<rect").count(), 56);
        assert!(page.contains("#c0392b"), "the day itself is marked");
        assert!(page.contains("枫源村·劳动争议"));
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert!(page.contains("节假日表未包含 2027 年"));
        assert!(!page.contains("src=") && !page.contains("href="), "self-contained");
    }
}
