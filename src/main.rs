//! The `fengqiao` binary: parse, run, map to an exit code, print the error chain.

use clap::Parser;

fn main() {
    let cli = fengqiao::cli::Cli::parse();
    // `serve` sets up its own JSON logs at info level; everything else logs warnings as text.
    // (A global subscriber can be set only once: setting this one first silenced serve's.)
    if !matches!(cli.command, fengqiao::cli::Command::Serve(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("FENGQIAO_LOG").unwrap_or_else(|_| "warn".into()))
            .with_writer(std::io::stderr)
            .init();
    }
    let code = match fengqiao::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
