//! Versioned migrations, one SQL text for both backends: `{serial}` becomes the backend's
//! auto-increment key. Applied in order inside a transaction each; `schema_migrations` records
//! which have run, so opening a store at any version brings it up to date.

/// (version, description, SQL).
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "cases, events, change log, labels, mediators, users",
    r#"
CREATE TABLE cases (
    id {serial},
    external_id TEXT UNIQUE,
    received_at BIGINT NOT NULL,
    channel TEXT NOT NULL,
    caller_name TEXT,
    caller_phone TEXT,
    region TEXT,
    address TEXT,
    text TEXT NOT NULL,
    predicted_type TEXT NOT NULL,
    predicted_type_prob DOUBLE PRECISION NOT NULL,
    predicted_risk TEXT NOT NULL,
    risk_probs TEXT NOT NULL,
    reasons TEXT NOT NULL,
    confirmed_type TEXT,
    confirmed_risk TEXT,
    model_version TEXT NOT NULL,
    tier TEXT NOT NULL,
    mediator_id TEXT,
    status TEXT NOT NULL,
    due_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cases_phone_time ON cases (caller_phone, received_at);
CREATE INDEX cases_address ON cases (address);
CREATE INDEX cases_region_time ON cases (region, received_at);
CREATE TABLE case_events (
    id {serial},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);
CREATE TABLE changes (
    seq {serial},
    case_id BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE TABLE labels (
    id {serial},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE TABLE mediators (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stars BIGINT NOT NULL,
    tier TEXT NOT NULL,
    region TEXT NOT NULL,
    specialties TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    load BIGINT NOT NULL,
    last_assigned BIGINT NOT NULL
);
CREATE TABLE users (
    id {serial},
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    region TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
"#,
),
(
    2,
    "service: user links and expiry, audit log, hotspot alerts, settings, overdue marks",
    r#"
ALTER TABLE users ADD COLUMN mediator_id TEXT;
ALTER TABLE users ADD COLUMN expires_at BIGINT;
ALTER TABLE users ADD COLUMN revoked_at BIGINT;
ALTER TABLE cases ADD COLUMN overdue_at BIGINT;
CREATE INDEX cases_mediator_status ON cases (mediator_id, status);
CREATE INDEX cases_status_due ON cases (status, due_at);
CREATE INDEX cases_received ON cases (received_at);
CREATE INDEX labels_case ON labels (case_id, id);
CREATE TABLE audit (
    id {serial},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    case_id BIGINT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE TABLE alerts (
    id {serial},
    created_at BIGINT NOT NULL,
    day TEXT NOT NULL,
    region TEXT NOT NULL,
    dispute_type TEXT,
    observed BIGINT NOT NULL,
    expected DOUBLE PRECISION NOT NULL,
    upper DOUBLE PRECISION NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX alerts_day ON alerts (day);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
"#,
),
(
    3,
    "hotspot batch: alert kinds (cell, topic, caller) and their evidence",
    r#"
ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'cell';
ALTER TABLE alerts ADD COLUMN evidence TEXT NOT NULL DEFAULT 'null';
"#,
),
(
    4,
    "mediator ratings: star decisions as mediator events; cross-region cases",
    r#"
ALTER TABLE cases ADD COLUMN other_regions TEXT NOT NULL DEFAULT '[]';
CREATE TABLE mediator_events (
    id {serial},
    mediator_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX mediator_events_mediator ON mediator_events (mediator_id, id)
"#,
)];
