//! Case history commands: `import`, `search`, `reindex`, over the store in the data directory
//! (or the database URL) and its search index.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use sha2::{Digest, Sha256};

use crate::labels::RiskLevel;
use crate::search::{SearchIndex, SearchRequest, SortBy};
use crate::store::{CaseStore, Created, NewCase, Status};
use crate::triage::{Pipeline, TriageRequest};

/// Where the store and index live.
pub struct Location {
    /// Data directory: the SQLite file (by default) and the search index.
    pub data_dir: PathBuf,
    /// A `postgres://` URL, if the store is PostgreSQL.
    pub database_url: Option<String>,
}

impl Location {
    /// Opens the store, bringing its schema up to date.
    pub async fn store(&self) -> Result<CaseStore> {
        Ok(match &self.database_url {
            Some(url) => CaseStore::open(url).await.with_context(|| format!("opening the database at {}", redact(url)))?,
            None => CaseStore::open_dir(&self.data_dir).await.with_context(|| format!("opening the store in {}", self.data_dir.display()))?,
        })
    }

    /// Opens the search index and lets it catch up with the store.
    pub async fn index(&self, store: &CaseStore) -> Result<SearchIndex> {
        let dir = self.data_dir.join("index");
        let mut index = SearchIndex::open(&dir).with_context(|| format!("opening the search index in {}", dir.display()))?;
        let caught_up = index.sync(store).await.context("bringing the search index up to date")?;
        if caught_up > 0 {
            eprintln!("search index caught up with {caught_up} changed cases");
        }
        Ok(index)
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_string(),
    }
}

/// `fengqiao import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV (with a header row) or JSONL file of past cases.
    pub file: PathBuf,
    /// Cases per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// `fengqiao search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find (simplified or traditional); empty lists everything.
    #[arg(default_value = "")]
    pub query: String,
    /// Region subtree, e.g. 浙江省/绍兴市/诸暨市/枫桥镇.
    #[arg(long)]
    pub region: Option<String>,
    /// Dispute type code.
    #[arg(long = "type")]
    pub dispute_type: Option<String>,
    /// Risk level.
    #[arg(long)]
    pub risk: Option<RiskLevel>,
    /// Status.
    #[arg(long)]
    pub status: Option<Status>,
    /// Tier.
    #[arg(long)]
    pub tier: Option<crate::labels::Tier>,
    /// Mediator id.
    #[arg(long)]
    pub mediator: Option<String>,
    /// Received on or after (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Received before (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// relevance, time or risk.
    #[arg(long, default_value = "relevance")]
    pub sort: String,
    /// Hits per page.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Hits to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Print {"total", "facets", "hits"} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub use crate::service::parse_time;

/// Decodes a file's bytes: UTF-8 (with or without BOM), or GB18030 when it is not valid UTF-8
/// but decodes cleanly as GB18030 (what Excel in China writes). Anything else is refused.
pub fn decode_file(bytes: Vec<u8>, path: &Path) -> Result<(String, &'static str)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").map(<[u8]>::to_vec).unwrap_or(bytes);
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, "UTF-8")),
        Err(e) => {
            let bytes = e.into_bytes();
            let (text, _, had_errors) = encoding_rs::GB18030.decode(&bytes);
            if had_errors || bytes.contains(&0) {
                bail!("{} is neither UTF-8 nor GB18030 text; save it as UTF-8 CSV or JSONL", path.display());
            }
            Ok((text.into_owned(), "GB18030"))
        }
    }
}

/// One row of an import file, by column name, with its line number.
struct Row {
    line: usize,
    fields: BTreeMap<String, String>,
}

/// Reads an import file's text (decoded to UTF-8).
fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (text, encoding) = decode_file(bytes, path)?;
    if encoding != "UTF-8" {
        eprintln!("{} is {encoding}; converted to UTF-8", path.display());
    }
    Ok(text)
}

/// The rows of an import file, one at a time (a million-row file is never held as rows), each a
/// row or a rejection with its line number.
fn rows<'a>(path: &Path, text: &'a str) -> Result<Box<dyn Iterator<Item = Result<Row, (usize, String)>> + 'a>> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let headers: Vec<String> = reader.headers().context("reading the CSV header row")?.iter().map(|h| h.trim().to_lowercase()).collect();
        Ok(Box::new(reader.into_records().map(move |record| match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line() as usize);
                if r.len() != headers.len() {
                    return Err((line, format!("{} fields where the header has {}", r.len(), headers.len())));
                }
                Ok(Row { line, fields: headers.iter().cloned().zip(r.iter().map(str::to_string)).collect() })
            }
            Err(e) => Err((e.position().map_or(0, |p| p.line() as usize), format!("malformed CSV: {e}"))),
        })))
    } else {
        Ok(Box::new(text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, line)| {
            let obj = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).map_err(|e| (i + 1, format!("not a JSON object: {e}")))?;
            let fields = obj
                .into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k.to_lowercase(), s)),
                    serde_json::Value::Number(n) => Some((k.to_lowercase(), n.to_string())),
                    _ => None,
                })
                .collect();
            Ok(Row { line: i + 1, fields })
        })))
    }
}

fn first<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| row.fields.get(*n)).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Turns one import row into a case: triage for the predictions, the row's own labels (if any)
/// as confirmed labels. History is not assigned to anyone, so no mediator's load changes.
fn row_to_case(pipeline: &Pipeline, row: &Row, file_key: &str) -> Result<NewCase, String> {
    let body = first(row, &["text", "body", "content", "内容"]).ok_or("no `text` (or `body`) value")?;
    let text = match first(row, &["title", "标题"]) {
        Some(t) if !body.starts_with(t) => format!("{t}\n{body}"),
        _ => body.to_string(),
    };
    let received_at = match first(row, &["time", "received", "received_at", "时间"]) {
        Some(t) => parse_time(t).ok_or_else(|| format!("time `{t}` is not a date (use YYYY-MM-DD HH:MM:SS or RFC 3339)"))?,
        None => Utc::now(),
    };
    let confirmed_risk = first(row, &["risk"]).map(|r| r.parse::<RiskLevel>().map_err(|e| e.to_string())).transpose()?;
    let confirmed_type = match first(row, &["type"]) {
        Some(t) if !pipeline.type_labels().iter().any(|l| l == t) => {
            return Err(format!("type `{t}` is not one of the model's labels ({})", pipeline.type_labels().join(", ")));
        }
        other => other.map(str::to_string),
    };
    let req = TriageRequest {
        text: text.clone(),
        region: first(row, &["region"]).map(str::to_string),
        phone: first(row, &["phone"]).map(str::to_string),
        address: first(row, &["address"]).map(str::to_string),
        other_regions: first(row, &["other_regions"]).map(|r| r.split([';', '；']).map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect()).unwrap_or_default(),
    };
    let triage = pipeline.assess(&req).map_err(|e| e.to_string())?;
    let triage = pipeline.route(triage);
    let external_id = match first(row, &["id", "external_id"]) {
        Some(id) => format!("{file_key}:{id}"),
        None => format!("sha256:{}", Sha256::digest(text.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect::<String>()),
    };
    let mut case = crate::service::new_case(&triage, &text, Some(external_id), received_at, first(row, &["channel"]).unwrap_or("import"), first(row, &["caller", "user", "name"]));
    // Past cases are history: they are not assigned to today's mediators.
    case.mediator_id = None;
    case.confirmed_type = confirmed_type;
    case.confirmed_risk = confirmed_risk;
    Ok(case)
}

/// `fengqiao import FILE`: triage rows, store them in batches (each batch one transaction,
/// reported only after it commits), index them, report rejected rows and carry on.
pub async fn import(location: &Location, mut pipeline: Pipeline, args: ImportArgs) -> Result<i32> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let store = location.store().await?;
    let roster = store.roster().await?;
    if roster.mediators().is_empty() {
        let n = store.import_roster(pipeline.roster(), "import").await.context("storing the mediator roster")?;
        eprintln!("the store had no mediators; imported the {n} of the configured roster");
    } else {
        pipeline.set_roster(roster);
    }
    let mut index = location.index(&store).await?;
    let text = read_text(&args.file)?;
    let mut rejected = Vec::new();
    let mut input = rows(&args.file, &text)?;
    let file_key = args.file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let progress = indicatif::ProgressBar::new(text.lines().count().saturating_sub(1).max(1) as u64);
    progress.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    progress.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, eta {eta}").expect("valid template"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut new, mut existing, mut batches) = (0usize, 0usize, 0usize);
    let mut out = std::io::stdout().lock();
    loop {
        let mut chunk = Vec::with_capacity(args.batch);
        for item in input.by_ref() {
            match item {
                Ok(row) => chunk.push(row),
                Err(rejection) => rejected.push(rejection),
            }
            if chunk.len() == args.batch {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let converted = super::parallel_map(&chunk, threads, |row| row_to_case(&pipeline, row, &file_key));
        let mut cases = Vec::with_capacity(chunk.len());
        for (row, result) in chunk.iter().zip(converted) {
            match result {
                Ok(c) => cases.push(c),
                Err(reason) => rejected.push((row.line, reason)),
            }
        }
        let created = store.create_cases(&cases, "import").await.context("storing a batch")?;
        new += created.iter().filter(|c| matches!(c, Created::New(_))).count();
        existing += created.iter().filter(|c| matches!(c, Created::Existing(_))).count();
        // The batch is durable now; say so before indexing, which can always be redone.
        writeln!(out, "stored {} cases (total new {new}, already present {existing})", cases.len())?;
        out.flush()?;
        progress.inc(chunk.len() as u64);
        index.sync_uncommitted(&store).await.context("indexing")?;
        batches += 1;
        if batches % 20 == 0 {
            index.commit_seen().context("committing the search index")?;
        }
    }
    index.commit_seen().context("committing the search index")?;
    progress.finish_and_clear();
    rejected.sort();
    for (line, reason) in &rejected {
        eprintln!("{}:{line}: rejected: {reason}", args.file.display());
    }
    eprintln!("imported {new} new cases, {existing} already present, {} rejected; {} cases in the store", rejected.len(), store.count().await?);
    Ok(if rejected.is_empty() { 0 } else { 3 })
}

fn time_arg(value: Option<&str>, what: &str) -> Result<Option<DateTime<Utc>>> {
    value.map(|v| parse_time(v).with_context(|| format!("--{what} `{v}` is not a date; use YYYY-MM-DD or RFC 3339"))).transpose()
}

/// `fengqiao search`.
pub async fn search(location: &Location, args: SearchArgs) -> Result<i32> {
    let sort = match args.sort.as_str() {
        "relevance" => SortBy::Relevance,
        "time" => SortBy::Time,
        "risk" => SortBy::Risk,
        other => bail!("--sort `{other}` is not one of relevance, time, risk"),
    };
    if let Some(r) = &args.region {
        crate::routing::RegionPath::parse(r)?;
    }
    let store = location.store().await?;
    let index = location.index(&store).await?;
    let req = SearchRequest {
        text: args.query,
        region: args.region,
        dispute_type: args.dispute_type,
        risk: args.risk,
        status: args.status,
        tier: args.tier.map(|t| t.code().to_string()),
        mediator: args.mediator,
        from: time_arg(args.from.as_deref(), "from")?,
        to: time_arg(args.to.as_deref(), "to")?,
        sort,
        limit: args.limit,
        offset: args.offset,
    };
    let result = index.search(&req)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &result)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(out, "共 {} 件", result.total)?;
    for (facet, counts) in &result.facets {
        let mut counts: Vec<_> = counts.iter().collect();
        counts.sort_by(|a, b| b.1.cmp(a.1));
        let shown: Vec<String> = counts.iter().take(8).map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "  {facet}: {}", shown.join(" · "))?;
    }
    for h in &result.hits {
        let snippet = h.snippet.replace("<b>", "【").replace("</b>", "】");
        writeln!(out, "\n#{} {} {} {} {} {}\n  {}", h.id, &h.received[..10.min(h.received.len())], h.region, h.dispute_type, h.risk, h.status, snippet)?;
    }
    Ok(0)
}

/// `fengqiao reindex`.
pub async fn reindex(location: &Location) -> Result<i32> {
    let store = location.store().await?;
    let dir = location.data_dir.join("index");
    // From scratch: the old files may be damaged or of an older schema.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing the old index in {}", dir.display()))?;
    }
    let mut index = SearchIndex::open(&dir).with_context(|| format!("opening the search index in {}", dir.display()))?;
    let n = index.reindex(&store).await?;
    eprintln!("reindexed {n} cases from the store");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_usual_shapes() {
        let t = parse_time("2019-02-28 11:25:05").unwrap();
        assert_eq!(t.to_rfc3339(), "2019-02-28T03:25:05+00:00", "China time without a zone");
        assert_eq!(parse_time("2019/2/28 11:25").unwrap().to_rfc3339(), "2019-02-28T03:25:00+00:00");
        assert_eq!(parse_time("2026-11-01").unwrap().to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn gb18030_is_converted_and_binary_refused() {
        let (gb, _, _) = encoding_rs::GB18030.encode("id,text\n1,楼上漏水\n");
        let (text, enc) = decode_file(gb.into_owned(), Path::new("x.csv")).unwrap();
        assert_eq!((text.as_str(), enc), ("id,text\n1,楼上漏水\n", "GB18030"));
        assert!(decode_file(vec![0xff, 0x00, 0xfe, 0x00], Path::new("x.bin")).is_err());
        assert_eq!(decode_file(b"\xEF\xBB\xBFid".to_vec(), Path::new("x")).unwrap().0, "id");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@db/x"), "postgres://…@db/x");
    }
}

/// Looks up the case history of a complaint, and the stored mediator roster, when a store is
/// configured (a database URL, or a store file already in the data directory); `None` when there
/// is no store to ask.
pub async fn history_for(location: &Location, a: &crate::triage::Assessment) -> Result<Option<(crate::store::History, crate::routing::Roster)>> {
    if location.database_url.is_none() && !location.data_dir.join("fengqiao.sqlite").exists() {
        return Ok(None);
    }
    let store = location.store().await?;
    let h = store.history(a.caller_phone.as_deref(), a.address.as_deref(), a.region.as_deref(), &a.normalized, Utc::now()).await?;
    Ok(Some((h, store.roster().await?)))
}

/// `fengqiao mediators import|list`.
/// The stored roster, or the configured one when none is stored yet (as `serve` would start with).
async fn stored_or_configured_roster(store: &CaseStore, config_dir: &Path) -> Result<crate::routing::Roster> {
    let roster = store.roster().await?;
    if !roster.mediators().is_empty() {
        return Ok(roster);
    }
    eprintln!("no roster is stored yet; using {}", config_dir.join("mediators.toml").display());
    Ok(crate::config::load_roster(config_dir)?)
}

pub async fn mediators(location: &Location, config_dir: &Path, cmd: super::MediatorsCommand) -> Result<i32> {
    let store = location.store().await?;
    match cmd {
        super::MediatorsCommand::Import { file } => {
            let path = file.unwrap_or_else(|| config_dir.join("mediators.toml"));
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let roster = crate::routing::Roster::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
            let n = store.import_roster(&roster, "cli").await?;
            eprintln!("stored {n} mediators from {}; routing now reads this roster", path.display());
        }
        super::MediatorsCommand::List => {
            let roster = store.roster().await?;
            println!("{}", serde_json::to_string_pretty(roster.mediators())?);
        }
        super::MediatorsCommand::Evaluate { period, json } => {
            let rules = crate::config::load_star_rules(config_dir)?;
            let offset = crate::config::load_sla(config_dir)?.utc_offset_hours;
            let roster = stored_or_configured_roster(&store, config_dir).await?;
            let e = crate::service::rating::evaluate(&store, roster.mediators(), &rules, &period, offset).await.map_err(|e| anyhow::anyhow!("{e} ({})", e.hint()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                println!("{:<8} {:<8} {:>5} {:>5} {:>8} {:>6} {:>6} {:>5} {:>6}  {:>4} → {:<4} reasons", "id", "name", "cases", "done", "weighted", "succ%", "writ%", "sat", "late%", "now", "new");
                for m in &e.mediators {
                    let f = &m.figures;
                    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}", v * 100.0));
                    println!(
                        "{:<8} {:<8} {:>5} {:>5} {:>8.1} {:>6} {:>6} {:>5} {:>6}  {:>4} → {:<4} {}",
                        m.id,
                        m.name,
                        f.cases,
                        f.with_outcome,
                        f.weighted,
                        pct(f.success_rate),
                        pct(f.written_share),
                        f.satisfaction.map_or("-".to_string(), |s| format!("{s:.1}")),
                        pct(f.overdue_share),
                        m.suggestion.current,
                        m.suggestion.suggested,
                        m.suggestion.reasons.join("；")
                    );
                }
            }
            for id in &e.unknown_mediators {
                eprintln!("warning: cases of mediator `{id}`, who is not on the roster, were not evaluated");
            }
            if e.mediators.iter().all(|m| m.figures.cases == 0) {
                eprintln!("no mediator handled a case received in {} ({} to {})", e.period, e.from, e.to);
            }
        }
        super::MediatorsCommand::Subsidies { period, csv, html } => {
            let rules = crate::config::load_star_rules(config_dir)?;
            let offset = crate::config::load_sla(config_dir)?.utc_offset_hours;
            let roster = stored_or_configured_roster(&store, config_dir).await?;
            let r = crate::service::rating::subsidies(&store, roster.mediators(), &rules, &period, offset).await.map_err(|e| anyhow::anyhow!("{e} ({})", e.hint()))?;
            if let Some(path) = &csv {
                super::write_atomically(path, crate::service::rating::subsidy_csv(&r).as_bytes())?;
            }
            if let Some(path) = &html {
                super::write_atomically(path, crate::service::rating::subsidy_html(&r).as_bytes())?;
            }
            for (region, amount) in &r.by_township {
                println!("{region}\t{amount:.2}");
            }
            eprintln!("{}: {} paid cases, {:.2} yuan in all", r.period, r.mediators.iter().map(|m| m.cases.len()).sum::<usize>(), r.total);
        }
    }
    Ok(0)
}
