//! Service levels: due times per risk level (`config/sla.toml`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::labels::RiskLevel;

/// Why `sla.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    /// Not valid TOML or not the expected shape.
    #[error("sla.toml: {0}")]
    Parse(#[from] toml::de::Error),
    /// A risk level has no due time.
    #[error("sla.toml: [due_hours] has no entry for `{0}`; give one for blue, yellow, orange and red")]
    Missing(RiskLevel),
    /// A due time is not positive.
    #[error("sla.toml: due_hours.{0} must be more than 0")]
    NotPositive(RiskLevel),
}

/// Due times and the overdue sweep interval.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    due_hours: BTreeMap<RiskLevel, f64>,
    /// Seconds between overdue sweeps.
    #[serde(default = "default_sweep")]
    pub sweep_seconds: u64,
    /// Local time zone of the dashboard's days, as hours east of UTC.
    #[serde(default = "default_offset")]
    pub utc_offset_hours: i64,
}

fn default_sweep() -> u64 {
    60
}

fn default_offset() -> i64 {
    8
}

impl Sla {
    /// Parses and checks `sla.toml`.
    pub fn from_toml(text: &str) -> Result<Sla, SlaError> {
        let sla: Sla = toml::from_str(text)?;
        for level in RiskLevel::ALL {
            match sla.due_hours.get(&level) {
                None => return Err(SlaError::Missing(level)),
                Some(h) if !(*h > 0.0) => return Err(SlaError::NotPositive(level)),
                _ => {}
            }
        }
        Ok(sla)
    }

    /// When a case of this risk, received or assigned at `from`, is due.
    pub fn due(&self, risk: RiskLevel, from: DateTime<Utc>) -> DateTime<Utc> {
        let hours = self.due_hours.get(&risk).copied().unwrap_or(24.0);
        from + Duration::milliseconds((hours * 3_600_000.0) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_follow_risk() {
        let sla = Sla::from_toml(include_str!("../../config/sla.toml")).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(sla.due(RiskLevel::Red, t).to_rfc3339(), "2026-11-20T10:00:00+00:00");
        assert_eq!(sla.due(RiskLevel::Blue, t).to_rfc3339(), "2026-11-27T08:00:00+00:00");
        assert!(sla.due(RiskLevel::Orange, t) < sla.due(RiskLevel::Yellow, t));
    }

    #[test]
    fn every_level_needs_a_positive_due_time() {
        let missing = Sla::from_toml("[due_hours]\nblue = 1\nyellow = 1\norange = 1\n").unwrap_err();
        assert!(missing.to_string().contains("red"), "{missing}");
        let zero = Sla::from_toml("[due_hours]\nblue = 1\nyellow = 1\norange = 1\nred = 0\n").unwrap_err();
        assert!(zero.to_string().contains("more than 0"), "{zero}");
        assert!(Sla::from_toml("[due_hours]\nblue = 1\nyellow = 1\norange = 1\nred = 1\nextra = 2\n").is_err());
    }
}
