//! `serve`, `users` and `train --with-corrections`: the commands around the service.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::history::Location;
use super::{ServeArgs, TrainArgs, UsersCommand};
use crate::config;
use crate::corpus::{self, LabelledText};
use crate::http::{AppState, Metrics};
use crate::model::{self, META_FILE, MODEL_FILE, TrainOptions};
use crate::service::{NewUser, Service, Stop};
use crate::text::Analyzer;
use crate::triage::Pipeline;

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `fengqiao serve`: the API and pages until Ctrl-C or SIGTERM; in-flight requests finish and
/// the index is committed before exit.
pub async fn serve(config_dir: &Path, location: &Location, pipeline: Pipeline, args: ServeArgs) -> Result<i32> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tantivy=warn,sqlx=warn".into()))
        .with_writer(std::io::stderr)
        .json()
        .try_init()
        .ok();
    let sla = config::load_sla(config_dir)?;
    let calendar = config::load_calendar(config_dir)?;
    let hotspots_at = match args.hotspots_at.trim() {
        "off" => None,
        at => Some(chrono::NaiveTime::parse_from_str(at, "%H:%M").with_context(|| format!("--hotspots-at `{at}` is not a time; use HH:MM (e.g. 02:00) or off"))?),
    };
    let store = location.store().await?;
    let index = location.index(&store).await?;
    let sla_offset = sla.utc_offset_hours;
    let stars = config::load_star_rules(config_dir)?;
    let service = Arc::new(Service::new(pipeline, store, index, sla).await.map_err(|e| anyhow::anyhow!("{e}"))?.with_star_rules(stars));
    if service.store().users().await?.is_empty() {
        eprintln!("no users yet: add one with `fengqiao users add --name NAME --role admin` (it prints the token to sign in with)");
    }
    let listener = tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let stop = Stop::new();
    let indexer = tokio::spawn(service.clone().run_indexer(stop.clone()));
    let sweeper = tokio::spawn(service.clone().run_sweeper(stop.clone()));
    let nightly = hotspots_at.map(|at| {
        let options = crate::service::night::NightOptions {
            day: chrono::NaiveDate::MIN,
            utc_offset_hours: sla_offset,
            calendar,
            settings: crate::hotspot::nightly::NightSettings::default(),
            report_dir: Some(location.data_dir.join("reports")),
        };
        tokio::spawn(crate::service::night::schedule(service.store().clone(), at, options, stop.clone()))
    });
    println!("fengqiao listening on http://{addr} (desk: http://{addr}/desk)");
    use std::io::Write;
    std::io::stdout().flush()?;
    let state = AppState { service: service.clone(), metrics: Arc::new(Metrics::default()) };
    crate::http::serve(listener, state, shutdown_signal()).await.context("serving HTTP")?;
    tracing::info!("shutting down: requests finished, committing the index");
    stop.stop();
    let _ = sweeper.await;
    if let Some(nightly) = nightly {
        // A night in progress is not cut short: its alerts are stored in one transaction.
        let _ = nightly.await;
    }
    let _ = indexer.await;
    eprintln!("stopped");
    Ok(0)
}

/// `fengqiao users add|list|revoke`.
pub async fn users(location: &Location, cmd: UsersCommand) -> Result<i32> {
    let store = location.store().await?;
    match cmd {
        UsersCommand::Add { name, role, region, mediator, days } => {
            let input = NewUser { name, role, region, mediator_id: mediator, days: Some(days) };
            let (user, token) = crate::service::add_user(&store, input, "cli").await.map_err(|e| anyhow::anyhow!("{e} ({})", e.hint()))?;
            eprintln!(
                "added {} ({}{}), token valid until {}; it is shown only now:",
                user.name,
                user.role,
                user.region.as_deref().map(|r| format!(", {r}")).unwrap_or_default(),
                user.expires_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
            );
            println!("{token}");
        }
        UsersCommand::List => println!("{}", serde_json::to_string_pretty(&store.users().await?)?),
        UsersCommand::Revoke { name } => {
            if !store.revoke_user(&name, "cli").await? {
                bail!("user `{name}` does not exist or is already revoked");
            }
            eprintln!("revoked the token of {name}");
        }
    }
    Ok(0)
}

/// `fengqiao train --with-corrections`: the corpus plus the labels staff confirmed or corrected,
/// a new model, and its metrics beside the current model's on the same held-out texts (the
/// corpus's dev split and the corrections' dev split, which neither model trained on).
pub async fn train_with_corrections(config_dir: &Path, models_dir: &Path, location: &Location, args: TrainArgs) -> Result<i32> {
    let corpus_dir = config::resolve_dir(args.corpus.as_deref(), "FENGQIAO_CORPUS", "corpora");
    let out_dir = args.out.clone().unwrap_or_else(|| std::path::PathBuf::from("models"));
    let corpus = corpus::read_dir(&corpus_dir).with_context(|| format!("reading the corpus in {}", corpus_dir.display()))?;
    let store = location.store().await?;
    let staff = store.staff_labels().await.context("reading staff labels from the case store")?;
    let known: std::collections::BTreeSet<&str> = corpus.texts.iter().filter_map(|t| t.labels.get("type").map(String::as_str)).collect();
    let mut corrections = Vec::new();
    let mut unknown = 0;
    for l in &staff {
        if !known.contains(l.dispute_type.as_str()) {
            unknown += 1;
            continue;
        }
        let labels = [("type".to_string(), l.dispute_type.clone()), ("risk".to_string(), l.risk.code().to_string())].into_iter().collect();
        corrections.push(LabelledText { text: l.text.clone(), tokens: None, labels, origin: format!("case:{}", l.case_id) });
    }
    eprintln!(
        "read {} corpus texts and {} staff-labelled cases ({} skipped: type not in the corpus)",
        corpus.texts.len(),
        corrections.len(),
        unknown
    );
    if corrections.is_empty() {
        eprintln!("no confirmed or corrected cases in the store yet; training on the corpus alone");
    }
    let rules = config::load_risk_rules(config_dir)?;
    let old = config::load_model(models_dir).ok();
    let mut all = corpus.texts.clone();
    all.extend(corrections.iter().cloned());
    let mut hasher = sha2::Sha256::new();
    use sha2::Digest;
    hasher.update(corpus.sha256.as_bytes());
    for c in &corrections {
        hasher.update(c.origin.as_bytes());
        hasher.update(c.text.as_bytes());
        hasher.update(c.labels["type"].as_bytes());
        hasher.update(c.labels["risk"].as_bytes());
    }
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let (bundle, meta) = tokio::task::block_in_place(|| model::train(Analyzer::global(), &all, &digest, &rules, &TrainOptions::default()))?;
    let corpus_dev: Vec<LabelledText> = corpus.texts.iter().filter(|r| corpus::is_dev(&r.text)).cloned().collect();
    let corrections_dev: Vec<LabelledText> = corrections.iter().filter(|r| corpus::is_dev(&r.text)).cloned().collect();
    let mut table = Vec::new();
    for (name, set) in [("corpus dev split", &corpus_dev), ("corrections dev split", &corrections_dev)] {
        if set.is_empty() {
            continue;
        }
        let new = bundle.evaluate(Analyzer::global(), set, &rules)?;
        let old = match &old {
            Some(m) => m.evaluate(Analyzer::global(), set, &rules).ok(),
            None => None,
        };
        table.push((name, set.len(), old, new));
    }
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    super::write_atomically(&out_dir.join(MODEL_FILE), &bundle.to_bytes())?;
    super::write_atomically(&out_dir.join(META_FILE), format!("{}\n", serde_json::to_string_pretty(&meta)?).as_bytes())?;
    println!("{:<24} {:>5}  {:>17}  {:>17}  {:>17}", "held-out set", "n", "type macro-F1", "risk macro-F1", "orange+red recall");
    println!("{:<24} {:>5}  {:>8} {:>8}  {:>8} {:>8}  {:>8} {:>8}", "", "", "current", "new", "current", "new", "current", "new");
    for (name, n, old, new) in &table {
        let f = |m: Option<&model::EvalReport>, which: &str| -> String {
            m.map(|m| match which {
                "type" => format!("{:.3}", m.dispute_type.macro_f1),
                "risk" => format!("{:.3}", m.risk.macro_f1),
                _ => format!("{:.3}", m.risk.extra.get("recall_orange_or_red").copied().unwrap_or(0.0)),
            })
            .unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<24} {:>5}  {:>8} {:>8}  {:>8} {:>8}  {:>8} {:>8}",
            name,
            n,
            f(old.as_ref(), "type"),
            f(Some(new), "type"),
            f(old.as_ref(), "risk"),
            f(Some(new), "risk"),
            f(old.as_ref(), "rec"),
            f(Some(new), "rec")
        );
    }
    eprintln!("trained on {} texts ({} from staff labels); wrote {}", meta.corpus.n_train, corrections.len(), out_dir.join(MODEL_FILE).display());
    Ok(0)
}
