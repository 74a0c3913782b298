//! The search index over a real store: Chinese queries in either script, filters, facets,
//! snippets, sorting, paging, hostile query text, and catching up with the store.

use chrono::{TimeZone, Utc};
use fengqiao::search::{SearchIndex, SearchRequest, SortBy};
use fengqiao::store::{CaseStore, NewCase, Status};
use fengqiao::{RiskLevel, Tier};

fn case(day: u32, region: &str, ty: &str, risk: RiskLevel, text: &str) -> NewCase {
    NewCase {
        external_id: None,
        received_at: Utc.with_ymd_and_hms(2026, 10, day, 8, 0, 0).unwrap(),
        channel: "hotline".into(),
        caller_name: None,
        caller_phone: None,
        region: Some(region.into()),
        address: None,
        text: text.into(),
        predicted_type: ty.into(),
        predicted_type_prob: 0.9,
        predicted_risk: risk,
        risk_probs: [0.25; 4],
        reasons: vec![],
        confirmed_type: None,
        confirmed_risk: None,
        model_version: "test".into(),
        tier: Tier::Village,
        mediator_id: Some("v-1".into()),
        due_at: None,
        other_regions: Vec::new(),
    }
}

const FENGYUAN: &str = "浙江省/绍兴市/诸暨市/枫桥镇/枫源村";
const XINFENG: &str = "浙江省/绍兴市/诸暨市/枫桥镇/新枫村";
const SHANGWAN: &str = "浙江省/绍兴市/诸暨市/东溪镇/上湾村";

async fn setup() -> (CaseStore, SearchIndex, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = CaseStore::open_dir(dir.path()).await.unwrap();
    store
        .create_cases(
            &[
                case(1, FENGYUAN, "labor", RiskLevel::Orange, "包工头拖欠农民工工资三个月，工人们要去镇政府讨薪"),
                case(2, XINFENG, "neighbor", RiskLevel::Blue, "樓上鄰居天天半夜剁肉，噪音太大"),
                case(3, SHANGWAN, "labor", RiskLevel::Red, "工厂老板欠薪跑路，工人说今晚带汽油去他家"),
                case(4, SHANGWAN, "property_mgmt", RiskLevel::Yellow, "物业费涨价没有开业主大会，多次反映无果"),
            ],
            "test",
        )
        .await
        .unwrap();
    let mut index = SearchIndex::open(&dir.path().join("index")).unwrap();
    assert_eq!(index.sync(&store).await.unwrap(), 4);
    (store, index, dir)
}

fn req(text: &str) -> SearchRequest {
    SearchRequest { text: text.into(), limit: 10, ..Default::default() }
}

fn ids(index: &SearchIndex, r: &SearchRequest) -> Vec<i64> {
    index.search(r).unwrap().hits.iter().map(|h| h.id).collect()
}

#[tokio::test]
async fn traditional_and_simplified_queries_find_each_other() {
    let (_s, index, _d) = setup().await;
    assert_eq!(ids(&index, &req("楼上邻居")), vec![2], "simplified query, traditional text");
    assert_eq!(ids(&index, &req("拖欠農民工工資")), vec![1], "traditional query, simplified text");
    let hit = &index.search(&req("噪音")).unwrap().hits[0];
    assert!(hit.snippet.contains("<b>噪音</b>"), "{}", hit.snippet);
    let hit = &index.search(&req("邻居")).unwrap().hits[0];
    assert!(hit.snippet.contains("<b>鄰居</b>"), "the original characters are highlighted: {}", hit.snippet);
}

#[tokio::test]
async fn region_subtrees_and_filters_narrow_the_results_and_facets_count_them() {
    let (_s, index, _d) = setup().await;
    let mut r = req("");
    r.region = Some("浙江省/绍兴市/诸暨市/枫桥镇".into());
    let mut got = ids(&index, &r);
    got.sort();
    assert_eq!(got, vec![1, 2], "a township finds its villages only");
    r.region = Some("浙江省/绍兴市/诸暨市".into());
    let res = index.search(&r).unwrap();
    assert_eq!(res.total, 4);
    assert_eq!(res.facets["type"]["labor"], 2);
    assert_eq!(res.facets["risk"]["red"], 1);
    assert_eq!(res.facets["status"]["assigned"], 4);
    assert_eq!(res.facets["region"]["浙江省/绍兴市/诸暨市/枫桥镇"], 2, "region counts one level below the filter: {:?}", res.facets["region"]);
    assert_eq!(res.facets["region"]["浙江省/绍兴市/诸暨市/东溪镇"], 2);
    let all = index.search(&req("")).unwrap();
    assert_eq!(all.facets["region"]["浙江省/绍兴市/诸暨市"], 4, "without a filter, counties");
    let mut r = req("工人");
    r.risk = Some(RiskLevel::Red);
    assert_eq!(ids(&index, &r), vec![3]);
    let mut r = req("");
    r.dispute_type = Some("labor".into());
    r.from = Some(Utc.with_ymd_and_hms(2026, 10, 2, 0, 0, 0).unwrap());
    assert_eq!(ids(&index, &r), vec![3], "time range");
    let mut r = req("");
    r.mediator = Some("nobody".into());
    assert_eq!(index.search(&r).unwrap().total, 0, "an unknown filter value simply matches nothing");
}

#[tokio::test]
async fn sorting_and_paging() {
    let (_s, index, _d) = setup().await;
    let mut r = req("");
    r.sort = SortBy::Time;
    assert_eq!(ids(&index, &r), vec![4, 3, 2, 1]);
    r.sort = SortBy::Risk;
    assert_eq!(ids(&index, &r), vec![3, 1, 4, 2]);
    r.limit = 2;
    r.offset = 2;
    assert_eq!(ids(&index, &r), vec![4, 2]);
    assert_eq!(index.search(&r).unwrap().total, 4, "the total counts every match, not the page");
}

#[tokio::test]
async fn hostile_and_odd_queries_do_not_fail() {
    let (_s, index, _d) = setup().await;
    for q in ["\"欠薪 AND (", "工资)) OR", "*", "text:", "-", "😡😡", "   ", "NOT"] {
        index.search(&req(q)).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    let err = index.search(&req(&"欠".repeat(501))).unwrap_err().to_string();
    assert!(err.contains("limit is 500"), "{err}");
}

#[tokio::test]
async fn the_index_follows_the_store_and_can_be_rebuilt() {
    let (store, mut index, dir) = setup().await;
    let applied = index.applied().unwrap();
    assert_eq!(applied, store.last_change().await.unwrap());
    store.transition(1, Status::InProgress, "med", None).await.unwrap();
    store.create_cases(&[case(5, FENGYUAN, "land", RiskLevel::Blue, "宅基地边界被邻居占了半米")], "op").await.unwrap();
    let mut r = req("");
    r.status = Some(Status::InProgress);
    assert_eq!(ids(&index, &r), Vec::<i64>::new(), "not yet synced");
    assert_eq!(index.sync(&store).await.unwrap(), 2);
    assert_eq!(ids(&index, &r), vec![1]);
    assert_eq!(index.len(), 5, "a changed case replaces its document");
    drop(index);
    let mut reopened = SearchIndex::open(&dir.path().join("index")).unwrap();
    assert_eq!(reopened.applied().unwrap(), store.last_change().await.unwrap(), "the applied change survives a restart");
    assert_eq!(reopened.reindex(&store).await.unwrap(), 5);
    assert_eq!(reopened.len(), 5);
}
