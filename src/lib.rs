//! fengqiao: conflict early warning and triage for grassroots dispute resolution (矛盾纠纷预警与分流).
//!
//! The library holds the whole pipeline; the binary in `main.rs` is glue. A complaint travels
//! normalize → segment ([`text`]) → classify ([`classify`]) → assess risk ([`risk`]) → route
//! ([`routing`]); [`triage`] wires those steps together. [`corpus`] and [`config`] read the files
//! the pipeline is built from; [`cli`] is the command line. See ARCHITECTURE.md for the map.
#![warn(missing_docs)]

pub mod access;
pub mod classify;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod files;
pub mod labels;
pub mod hotspot;
pub mod http;
pub mod model;
pub mod rating;
pub mod risk;
pub mod routing;
pub mod search;
pub mod service;
pub mod store;
pub mod text;
pub mod triage;
pub mod web;

pub use labels::{RiskLevel, Tier};
pub use triage::{Pipeline, Triage, TriageRequest};
