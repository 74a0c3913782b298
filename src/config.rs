//! Where the pipeline's files live and how they are read: `config/` (risk cues, routing rules,
//! mediator roster) and `models/` (the trained model).
//!
//! A directory given on the command line wins, then an environment variable, then `./config`
//! or `./models` if present, then the copies in the source tree this binary was built from, so
//! `cargo run -- triage …` works from anywhere in a checkout.

use std::fs;
use std::path::{Path, PathBuf};

use crate::classify::ModelError;
use crate::model::{MODEL_FILE, ModelBundle};
use crate::risk::{RiskConfigError, RiskRules};
use crate::routing::{Roster, RosterError, RoutingConfigError, RoutingRules};
use crate::triage::Pipeline;

/// A configuration or model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `risk.toml` is invalid.
    #[error("{path}: {source}")]
    Risk {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        source: RiskConfigError,
    },
    /// `routing.toml` is invalid.
    #[error("{path}: {source}")]
    Routing {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        source: RoutingConfigError,
    },
    /// `mediators.toml` is invalid.
    #[error("{path}: {source}")]
    Roster {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        source: RosterError,
    },
    /// `sla.toml` is not valid.
    #[error("{path}: {source}")]
    Sla {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: crate::service::SlaError,
    },
    /// The star rules are not valid.
    #[error("{path}: {source}")]
    Stars {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: crate::rating::RulesError,
    },
    /// The holiday calendar is not valid.
    #[error("{path}: {source}")]
    Holidays {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: crate::hotspot::calendar::CalendarError,
    },
    /// The model file is unusable.
    #[error("{path}: {source}")]
    Model {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        source: ModelError,
    },
}

/// Resolves a directory: the flag, else the environment variable, else `./name` if it exists,
/// else the source tree's copy.
pub fn resolve_dir(flag: Option<&Path>, env: &str, name: &str) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from(name);
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })
}

/// Reads `risk.toml` from a config directory.
pub fn load_risk_rules(dir: &Path) -> Result<RiskRules, ConfigError> {
    let path = dir.join("risk.toml");
    RiskRules::from_toml(&read(&path)?).map_err(|source| ConfigError::Risk { path, source })
}

/// Reads `routing.toml` from a config directory.
pub fn load_routing_rules(dir: &Path) -> Result<RoutingRules, ConfigError> {
    let path = dir.join("routing.toml");
    RoutingRules::from_toml(&read(&path)?).map_err(|source| ConfigError::Routing { path, source })
}

/// Reads `mediators.toml` from a config directory.
pub fn load_roster(dir: &Path) -> Result<Roster, ConfigError> {
    let path = dir.join("mediators.toml");
    Roster::from_toml(&read(&path)?).map_err(|source| ConfigError::Roster { path, source })
}

/// Reads `sla.toml` (due times per risk level).
pub fn load_sla(dir: &Path) -> Result<crate::service::Sla, ConfigError> {
    let path = dir.join("sla.toml");
    crate::service::Sla::from_toml(&read(&path)?).map_err(|source| ConfigError::Sla { path, source })
}

/// Reads the holiday calendar `holidays.toml`; a missing file is an empty calendar (every day
/// is an ordinary day, and the batch warns that the year is not covered).
pub fn load_calendar(dir: &Path) -> Result<crate::hotspot::calendar::Calendar, ConfigError> {
    let path = dir.join("holidays.toml");
    if !path.exists() {
        return Ok(crate::hotspot::calendar::Calendar::default());
    }
    crate::hotspot::calendar::Calendar::parse(&read(&path)?).map_err(|source| ConfigError::Holidays { path, source })
}

/// Reads the mediator star rules `stars.toml`.
pub fn load_star_rules(dir: &Path) -> Result<crate::rating::StarRules, ConfigError> {
    let path = dir.join("stars.toml");
    crate::rating::StarRules::parse(&read(&path)?).map_err(|source| ConfigError::Stars { path, source })
}

/// Reads the model from a models directory.
pub fn load_model(dir: &Path) -> Result<ModelBundle, ConfigError> {
    let path = dir.join(MODEL_FILE);
    let bytes = fs::read(&path).map_err(|source| ConfigError::Io { path: path.clone(), source })?;
    ModelBundle::from_bytes(&bytes).map_err(|source| ConfigError::Model { path, source })
}

/// Loads everything triage needs: the model from `models_dir`, rules and roster from `config_dir`.
pub fn load_pipeline(config_dir: &Path, models_dir: &Path) -> Result<Pipeline, ConfigError> {
    let model = load_model(models_dir)?;
    let pipeline = Pipeline::new(model, load_risk_rules(config_dir)?, load_routing_rules(config_dir)?, load_roster(config_dir)?);
    pipeline.map_err(|source| ConfigError::Model { path: models_dir.join(MODEL_FILE), source })
}
