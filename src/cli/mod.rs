//! The command line: argument parsing, reading inputs, printing results, exit codes.
//!
//! Exit codes: 0 success; 1 an error (message on stderr); 2 a usage error (from clap);
//! 3 a batch finished but some of its lines were rejected (each reported by line number).

mod card;
mod history;
mod hotspots;
mod serve;

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::config;
use crate::corpus;
use crate::model::{self, META_FILE, MODEL_FILE, TrainOptions};
use crate::text::Analyzer;
use crate::triage::{Pipeline, TriageRequest};

/// fengqiao: conflict early warning and triage (矛盾纠纷预警与分流).
#[derive(Debug, Parser)]
#[command(name = "fengqiao", version, about)]
pub struct Cli {
    /// Directory with risk.toml, routing.toml and mediators.toml.
    #[arg(long, global = true, env = "FENGQIAO_CONFIG", value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Directory with the trained model.
    #[arg(long, global = true, env = "FENGQIAO_MODELS", value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Data directory: the embedded SQLite store and the search index.
    #[arg(long, global = true, env = "FENGQIAO_DATA_DIR", value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Use PostgreSQL as the store: postgres://USER@HOST/DB (the index stays in the data directory).
    #[arg(long, global = true, env = "FENGQIAO_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Triage a complaint: type, risk with reasons, tier and mediator.
    Triage(TriageArgs),
    /// Train the type and risk models from a corpus directory.
    Train(TrainArgs),
    /// Evaluate the model on labelled data, or train-and-test on any label set.
    Eval(EvalArgs),
    /// Import past cases from CSV or JSONL into the store and the search index.
    Import(history::ImportArgs),
    /// Search case history (Chinese full text, filters, facets).
    Search(history::SearchArgs),
    /// Rebuild the search index from the store.
    Reindex,
    /// The mediator roster held in the store.
    #[command(subcommand)]
    Mediators(MediatorsCommand),
    /// Run the HTTP API and web pages (triage desk, search, case pages, queues, dashboard).
    Serve(ServeArgs),
    /// User accounts and their API tokens.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Hotspot detection: rises in case counts by region and dispute type.
    #[command(subcommand)]
    Hotspots(hotspots::HotspotsCommand),
}

/// `fengqiao serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "FENGQIAO_ADDR")]
    pub addr: String,
    /// Local time (HH:MM) at which the nightly hotspot batch runs for the day before, or `off`.
    /// Reports go to the data directory's `reports`.
    #[arg(long, default_value = "02:00", env = "FENGQIAO_HOTSPOTS_AT")]
    pub hotspots_at: String,
}

/// `fengqiao users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user and print their token (shown only this once).
    Add {
        /// Unique user name (recorded as the actor of their changes).
        #[arg(long)]
        name: String,
        /// operator, supervisor, mediator or admin.
        #[arg(long)]
        role: String,
        /// Region subtree the user works in, e.g. 浙江省/绍兴市/诸暨市/枫桥镇 (default: everywhere).
        #[arg(long)]
        region: Option<String>,
        /// The mediator's roster id (mediators only).
        #[arg(long)]
        mediator: Option<String>,
        /// Days until the token expires.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// List users (never their tokens).
    List,
    /// Revoke a user's token.
    Revoke {
        /// User name.
        name: String,
    },
}

/// `fengqiao mediators …`.
#[derive(Debug, Subcommand)]
pub enum MediatorsCommand {
    /// Replace the stored roster with a roster file (default: mediators.toml in the config directory).
    Import {
        /// The roster file.
        file: Option<PathBuf>,
    },
    /// Print the stored roster as JSON.
    List,
    /// Each mediator's figures for a period and a suggested star grade with its reasons (rules in
    /// stars.toml); an administrator confirms or rejects them on the admin page or with the API.
    Evaluate {
        /// The period: a quarter (2026Q3), a month (2026-07) or a year (2026).
        #[arg(long)]
        period: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The subsidies (以奖代补) of a period: per agreed case by star grade and difficulty, per
    /// mediator, township and county.
    Subsidies {
        /// The period: a quarter (2026Q3), a month (2026-07) or a year (2026).
        #[arg(long)]
        period: String,
        /// Write the CSV (opens in Excel) here.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Write the HTML report here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
}

/// `fengqiao triage`.
#[derive(Debug, Args)]
pub struct TriageArgs {
    /// The complaint; read from stdin when absent.
    pub text: Option<String>,
    /// Print the full result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Triage each line of a JSONL file (`-` for stdin): {"text", optional "region", "phone"};
    /// one JSON result per line goes to stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub jsonl: Option<PathBuf>,
    /// Region path of the dispute, e.g. 浙江省/绍兴市/诸暨市/枫桥镇/枫源村.
    #[arg(long)]
    pub region: Option<String>,
    /// A further region the dispute spans (repeat for each); routed at the regions' common
    /// ancestor.
    #[arg(long = "other-region", value_name = "REGION")]
    pub other_region: Vec<String>,
    /// The caller's phone number (earlier calls from it are looked up in the case store).
    #[arg(long)]
    pub phone: Option<String>,
    /// The address of the dispute.
    #[arg(long)]
    pub address: Option<String>,
    /// Threads for --jsonl (complaints are assessed in parallel and routed in input order);
    /// default: all cores.
    #[arg(long, value_name = "N", requires = "jsonl")]
    pub threads: Option<usize>,
}

/// `fengqiao train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Corpus directory (all *.jsonl files beneath it).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Where to write the model and meta.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Add the labels staff confirmed or corrected in the case store to the corpus, and report
    /// the new model's metrics beside the current model's.
    #[arg(long)]
    pub with_corrections: bool,
}

/// `fengqiao eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labelled JSONL (text, type, risk) to evaluate the model on.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["train", "test"])]
    pub data: Option<PathBuf>,
    /// Training file (JSONL or CSV with `text` or `tokens`) for a temporary model.
    #[arg(long, value_name = "FILE", requires_all = ["test", "label"])]
    pub train: Option<PathBuf>,
    /// Test file for the temporary model.
    #[arg(long, value_name = "FILE", requires = "train")]
    pub test: Option<PathBuf>,
    /// The label column or field to learn.
    #[arg(long, value_name = "FIELD")]
    pub label: Option<String>,
    /// Regularisation C of the temporary model's learner.
    #[arg(long)]
    pub c: Option<f64>,
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let config_dir = config::resolve_dir(cli.config.as_deref(), "FENGQIAO_CONFIG", "config");
    let models_dir = config::resolve_dir(cli.models.as_deref(), "FENGQIAO_MODELS", "models");
    let location = history::Location { data_dir: cli.data_dir, database_url: cli.database_url.filter(|u| !u.trim().is_empty()) };
    let runtime = || tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting the async runtime");
    match cli.command {
        Command::Triage(args) => triage(&config_dir, &models_dir, &location, args),
        Command::Train(args) if args.with_corrections => runtime()?.block_on(serve::train_with_corrections(&config_dir, &models_dir, &location, args)),
        Command::Train(args) => train(&config_dir, args),
        Command::Eval(args) => eval(&config_dir, &models_dir, args),
        Command::Import(args) => {
            let pipeline = load_pipeline(&config_dir, &models_dir)?;
            runtime()?.block_on(history::import(&location, pipeline, args))
        }
        Command::Search(args) => runtime()?.block_on(history::search(&location, args)),
        Command::Reindex => runtime()?.block_on(history::reindex(&location)),
        Command::Mediators(cmd) => runtime()?.block_on(history::mediators(&location, &config_dir, cmd)),
        Command::Serve(args) => {
            let pipeline = load_pipeline(&config_dir, &models_dir)?;
            runtime()?.block_on(serve::serve(&config_dir, &location, pipeline, args))
        }
        Command::Users(cmd) => runtime()?.block_on(serve::users(&location, cmd)),
        Command::Hotspots(hotspots::HotspotsCommand::Eval(args)) => hotspots::eval(args),
        Command::Hotspots(hotspots::HotspotsCommand::Run(args)) => runtime()?.block_on(hotspots::run(&config_dir, &location, args)),
    }
}

fn load_pipeline(config_dir: &Path, models_dir: &Path) -> Result<Pipeline> {
    config::load_pipeline(config_dir, models_dir).context("loading the model and configuration (train a model with `fengqiao train`)")
}

fn read_stdin() -> Result<String> {
    let mut bytes = Vec::new();
    io::stdin().read_to_end(&mut bytes).context("reading stdin")?;
    decode(bytes, "stdin")
}

fn decode(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what} is not valid UTF-8 (first bad byte at offset {}); convert it first, e.g. `iconv -f GB18030 -t UTF-8`",
            e.utf8_error().valid_up_to()
        )
    })
}

fn triage(config_dir: &Path, models_dir: &Path, location: &history::Location, args: TriageArgs) -> Result<i32> {
    if let Some(path) = &args.jsonl {
        let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
        return triage_jsonl(config_dir, models_dir, path, threads);
    }
    let text = match args.text {
        Some(t) => t,
        None => read_stdin()?,
    };
    let mut pipeline = load_pipeline(config_dir, models_dir)?;
    let req = TriageRequest { text, region: args.region, phone: args.phone, address: args.address, other_regions: args.other_region };
    let mut assessment = pipeline.assess(&req)?;
    // With a case store at hand, earlier cases from the same caller or address, and repeats in
    // the region, are shown and can raise the risk; routing reads the stored roster.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    if let Some((h, roster)) = runtime.block_on(history::history_for(location, &assessment))? {
        pipeline.apply_history(&mut assessment, &h);
        if !roster.mediators().is_empty() {
            pipeline.set_roster(roster);
        }
    }
    let result = pipeline.route(assessment);
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &result)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", card::render(&result))?;
    }
    Ok(0)
}

/// Lines are read in chunks; each chunk is assessed on `threads` threads, then routed, recorded
/// and written in input order, so the roster's load and rotation advance exactly as they would
/// one complaint at a time.
fn triage_jsonl(config_dir: &Path, models_dir: &Path, path: &Path, threads: usize) -> Result<i32> {
    const CHUNK: usize = 512;
    let mut pipeline = load_pipeline(config_dir, models_dir)?;
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(io::BufReader::new(io::stdin()))
    } else {
        Box::new(io::BufReader::new(fs::File::open(path).with_context(|| format!("opening {}", path.display()))?))
    };
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    let mut out = io::BufWriter::new(io::stdout().lock());
    let (mut ok, mut failed) = (0usize, 0usize);
    let mut lines = reader.split(b'\n').enumerate();
    loop {
        let mut chunk: Vec<(usize, Result<TriageRequest>)> = Vec::with_capacity(CHUNK);
        for (i, line) in lines.by_ref() {
            let n = i + 1;
            let line = line.with_context(|| format!("reading line {n}"))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let req = decode(line, &format!("line {n}"))
                .and_then(|s| serde_json::from_str::<TriageRequest>(&s).map_err(|e| anyhow::anyhow!("line {n}: not a triage request: {e}")));
            chunk.push((n, req));
            if chunk.len() == CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let assessed = parallel_map(&chunk, threads, |(n, req)| match req {
            Ok(r) => pipeline.assess(r).map_err(|e| anyhow::anyhow!("line {n}: {e}")),
            Err(e) => Err(anyhow::anyhow!("{e:#}")),
        });
        // Routing reads and updates the roster, so it runs in input order; serialising the
        // results does not, so it runs in parallel again.
        let routed: Vec<(usize, Result<crate::triage::Triage>)> = chunk
            .iter()
            .zip(assessed)
            .map(|((n, _), result)| {
                let routed = result.map(|a| {
                    let t = pipeline.route(a);
                    pipeline.commit_assignment(&t);
                    t
                });
                (*n, routed)
            })
            .collect();
        let lines = parallel_map(&routed, threads, |(line, result)| match result {
            Ok(triage) => serde_json::to_string(&NumberedTriage { line: *line, triage }).map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:#}")),
        });
        for ((line, _), json) in routed.iter().zip(lines) {
            match json {
                Ok(json) => {
                    out.write_all(json.as_bytes())?;
                    ok += 1;
                }
                Err(e) => {
                    progress.suspend(|| eprintln!("{e}"));
                    serde_json::to_writer(&mut out, &serde_json::json!({"line": line, "error": e}))?;
                    failed += 1;
                }
            }
            writeln!(out)?;
        }
        progress.set_message(format!("{ok} triaged, {failed} rejected"));
        progress.tick();
    }
    out.flush()?;
    progress.finish_and_clear();
    eprintln!("{ok} triaged, {failed} rejected");
    Ok(if failed > 0 { 3 } else { 0 })
}

/// One line of `--jsonl` output: the input line number and the triage.
#[derive(serde::Serialize)]
struct NumberedTriage<'a> {
    line: usize,
    #[serde(flatten)]
    triage: &'a crate::triage::Triage,
}

/// Maps `f` over `items` on up to `threads` scoped threads, keeping the order.
fn parallel_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(per).map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a triage thread panicked")).collect()
    })
}

fn train(config_dir: &Path, args: TrainArgs) -> Result<i32> {
    let corpus_dir = config::resolve_dir(args.corpus.as_deref(), "FENGQIAO_CORPUS", "corpora");
    let out_dir = args.out.unwrap_or_else(|| PathBuf::from("models"));
    let started = Instant::now();
    let corpus = corpus::read_dir(&corpus_dir).with_context(|| format!("reading the corpus in {}", corpus_dir.display()))?;
    eprintln!("read {} texts from {} files in {}", corpus.texts.len(), corpus.files.len(), corpus_dir.display());
    let rules = config::load_risk_rules(config_dir)?;
    eprintln!("training (features, type head, risk head, fusion; 5-fold cross-fitting)…");
    let (bundle, meta) = model::train(Analyzer::global(), &corpus.texts, &corpus.sha256, &rules, &TrainOptions::default())?;
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    write_atomically(&out_dir.join(MODEL_FILE), &bundle.to_bytes())?;
    write_atomically(&out_dir.join(META_FILE), format!("{}\n", serde_json::to_string_pretty(&meta)?).as_bytes())?;
    eprintln!(
        "trained on {} texts in {:.1} s (total {:.1} s); dev n={}: type accuracy {:.3}, macro-F1 {:.3}; risk macro-F1 {:.3}, red recall {:.3}",
        meta.corpus.n_train,
        meta.train_seconds,
        started.elapsed().as_secs_f64(),
        meta.dev.n,
        meta.dev.dispute_type.accuracy,
        meta.dev.dispute_type.macro_f1,
        meta.dev.risk.macro_f1,
        meta.dev.risk.extra.get("recall_red").copied().unwrap_or(0.0),
    );
    eprintln!("wrote {} and {}", out_dir.join(MODEL_FILE).display(), out_dir.join(META_FILE).display());
    Ok(0)
}

/// Writes a file so that a reader sees either the old or the new content, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write_atomically(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn eval(config_dir: &Path, models_dir: &Path, args: EvalArgs) -> Result<i32> {
    let analyzer = Analyzer::global();
    let report = match (&args.data, &args.train, &args.test, &args.label) {
        (Some(data), None, None, _) => {
            let records = corpus::read_file(data)?;
            let model = config::load_model(models_dir).context("loading the model")?;
            let rules = config::load_risk_rules(config_dir)?;
            serde_json::to_value(model.evaluate(analyzer, &records, &rules)?)?
        }
        (None, Some(train), Some(test), Some(label)) => {
            let train_records = corpus::read_file(train)?;
            let test_records = corpus::read_file(test)?;
            let mut opts = TrainOptions::default();
            if let Some(c) = args.c {
                if !(c.is_finite() && c > 0.0) {
                    bail!("--c must be a positive number");
                }
                opts.type_learner.c = c;
            }
            let metrics = model::train_and_evaluate(analyzer, &train_records, &test_records, label, &opts)?;
            serde_json::json!({ label: metrics, "n": test_records.len(), "n_train": train_records.len() })
        }
        _ => bail!("give either --data FILE, or --train FILE --test FILE --label FIELD"),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(0)
}
