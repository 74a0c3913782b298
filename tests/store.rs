//! The case store against real databases: an SQLite file and a PostgreSQL schema of its own
//! (127.0.0.1:5432, database `test`, or FENGQIAO_TEST_POSTGRES). Every test runs on both.

use chrono::{TimeZone, Utc};
use fengqiao::store::{CaseStore, Created, NewCase, Status, StoreError};
use fengqiao::{RiskLevel, Tier};

/// A PostgreSQL URL whose connections use a fresh schema, so concurrent runs never collide.
async fn postgres_store() -> Option<CaseStore> {
    let base = std::env::var("FENGQIAO_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base == "off" {
        eprintln!("FENGQIAO_TEST_POSTGRES=off: skipping the PostgreSQL half of this test");
        return None;
    }
    let schema = format!("fq_test_{}_{}", std::process::id(), Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let pool = sqlx::postgres::PgPool::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is required for these tests ({e}); set FENGQIAO_TEST_POSTGRES=off to skip"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&pool).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(CaseStore::open(&format!("{base}{sep}options=-c%20search_path%3D{schema}")).await.unwrap())
}

async fn stores() -> Vec<(CaseStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(CaseStore::open_dir(dir.path()).await.unwrap(), dir)];
    if let Some(pg) = postgres_store().await {
        out.push((pg, tempfile::tempdir().unwrap()));
    }
    out
}

fn case(external: Option<&str>, text: &str, phone: Option<&str>) -> NewCase {
    NewCase {
        external_id: external.map(str::to_string),
        received_at: Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap(),
        channel: "hotline".into(),
        caller_name: Some("张某".into()),
        caller_phone: phone.map(str::to_string),
        region: Some("浙江省/绍兴市/诸暨市/枫桥镇/枫源村".into()),
        address: Some("枫源村3组12号".into()),
        text: text.into(),
        predicted_type: "neighbor".into(),
        predicted_type_prob: 0.91,
        predicted_risk: RiskLevel::Yellow,
        risk_probs: [0.2, 0.6, 0.15, 0.05],
        reasons: vec!["多次反映未解决（“好几次”）".into()],
        confirmed_type: None,
        confirmed_risk: None,
        model_version: "test".into(),
        tier: Tier::Township,
        mediator_id: None,
        due_at: None,
        other_regions: Vec::new(),
    }
}

#[tokio::test]
async fn cases_round_trip_with_their_timeline() {
    for (store, _dir) in stores().await {
        let created = store.create_cases(&[case(None, "楼上漏水，说了好几次", Some("13812345678"))], "operator1").await.unwrap();
        let id = created[0].id();
        let got = store.case(id).await.unwrap();
        assert_eq!(got.fields, case(None, "楼上漏水，说了好几次", Some("13812345678")), "{:?}", store.backend());
        assert_eq!(got.status, Status::New);
        let events = store.events(id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].actor.as_str(), events[0].kind.as_str()), ("operator1", "created"));
        assert!(matches!(store.case(id + 1000).await, Err(StoreError::NotFound(_))));
    }
}

#[tokio::test]
async fn an_external_id_is_stored_once() {
    for (store, _dir) in stores().await {
        let a = store.create_cases(&[case(Some("hot-1"), "第一次", None), case(Some("hot-2"), "第二次", None)], "import").await.unwrap();
        let b = store.create_cases(&[case(Some("hot-1"), "改过的文本", None), case(Some("hot-3"), "第三次", None)], "import").await.unwrap();
        assert!(matches!(a[0], Created::New(_)) && matches!(b[1], Created::New(_)));
        assert_eq!(b[0], Created::Existing(a[0].id()));
        assert_eq!(store.case(a[0].id()).await.unwrap().fields.text, "第一次", "a re-import changes nothing");
        assert_eq!(store.count().await.unwrap(), 3);
    }
}

#[tokio::test]
async fn only_allowed_transitions_are_accepted_and_each_is_recorded() {
    for (store, _dir) in stores().await {
        let id = store.create_cases(&[case(None, "邻居占道", None)], "op").await.unwrap()[0].id();
        let err = store.transition(id, Status::Resolved, "med1", None).await.unwrap_err();
        assert!(matches!(err, StoreError::Transition { from: Status::New, to: Status::Resolved, .. }), "{err}");
        assert!(err.to_string().contains("allowed next: assigned"), "{err}");
        for to in [Status::Assigned, Status::InProgress, Status::Escalated, Status::Assigned, Status::InProgress, Status::Resolved, Status::Closed] {
            store.transition(id, to, "med1", Some("备注")).await.unwrap();
        }
        assert_eq!(store.case(id).await.unwrap().status, Status::Closed);
        assert!(store.transition(id, Status::Assigned, "med1", None).await.is_err(), "closed is final");
        let kinds: Vec<String> = store.events(id).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 8, "created + 7 status changes, nothing for the refused ones: {kinds:?}");
    }
}

#[tokio::test]
async fn corrections_are_kept_as_labels_and_events() {
    for (store, _dir) in stores().await {
        let id = store.create_cases(&[case(None, "楼上装修噪音", None)], "op").await.unwrap()[0].id();
        let c = store.confirm(id, Some("environment"), Some(RiskLevel::Yellow), "op2").await.unwrap();
        assert_eq!(c.effective_type(), "environment");
        assert_eq!(c.effective_risk(), RiskLevel::Yellow);
        let events = store.events(id).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["created", "corrected", "confirmed"]);
        assert_eq!(events[1].detail["predicted"], "neighbor");
    }
}

#[tokio::test]
async fn the_change_log_lists_each_changed_case_once_in_order() {
    for (store, _dir) in stores().await {
        let ids: Vec<i64> = store.create_cases(&[case(None, "甲", None), case(None, "乙", None)], "op").await.unwrap().iter().map(|c| c.id()).collect();
        let before = store.last_change().await.unwrap();
        store.transition(ids[0], Status::Assigned, "op", None).await.unwrap();
        let all = store.changed_since(0, 100).await.unwrap();
        assert_eq!(all.iter().map(|(_, c)| c.id).collect::<Vec<_>>(), vec![ids[1], ids[0]], "latest change of each case, in order");
        let later = store.changed_since(before, 100).await.unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].1.status, Status::Assigned);
    }
}

#[tokio::test]
async fn the_roster_round_trips_and_reopening_migrates_nothing_twice() {
    let roster = fengqiao::routing::Roster::from_toml(include_str!("../config/mediators.toml")).unwrap();
    for (store, dir) in stores().await {
        assert_eq!(store.import_roster(&roster, "test").await.unwrap(), roster.mediators().len());
        let mut expected = roster.mediators().to_vec();
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(store.roster().await.unwrap().mediators(), expected);
        if store.backend() == fengqiao::store::Backend::Sqlite {
            let again = CaseStore::open_dir(dir.path()).await.unwrap();
            assert_eq!(again.roster().await.unwrap().mediators().len(), roster.mediators().len());
        }
    }
}

#[tokio::test]
async fn unsupported_urls_are_refused_clearly() {
    let err = CaseStore::open("mysql://localhost/x").await.unwrap_err().to_string();
    assert!(err.contains("not supported") && err.contains("postgres://"), "{err}");
}
