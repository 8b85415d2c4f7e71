//! Property test: every store's search returns exactly what the in-memory evaluator of
//! `ferroflow_core::search::runs` selects, in the same order.
//!
//! One difference is MySQL's own, and MLflow's there too: strings are ordered by the
//! database's collation, which ignores case (filters compare byte for byte everywhere).

use ferroflow_core::entities::{Metric, Param, Run, Tag, ViewType};
use ferroflow_core::search::runs::{compare, matches, parse_run_filter, parse_run_order_by};
use ferroflow_store::{Batch, CreateRun, RunSearch};
use proptest::prelude::*;

use crate::{TestStore, file_store, sql_store};

#[derive(Debug, Clone)]
struct RunSpec {
    start: i64,
    metrics: Vec<(usize, f64)>,
    params: Vec<(usize, usize)>,
    tags: Vec<(usize, usize)>,
}

const KEYS: [&str; 3] = ["a", "b", "c"];
const VALUES: [&str; 4] = ["x", "xy", "Y", "z1"];
const NUMS: [f64; 5] = [-1.0, 0.0, 0.5, 2.0, f64::NAN];

fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        0i64..4,
        proptest::collection::vec((0usize..3, 0usize..5), 0..3),
        proptest::collection::vec((0usize..3, 0usize..4), 0..3),
        proptest::collection::vec((0usize..3, 0usize..4), 0..3),
    )
        .prop_map(|(start, m, p, t)| RunSpec {
            start,
            metrics: m.into_iter().map(|(k, v)| (k, NUMS[v])).collect(),
            params: p,
            tags: t,
        })
}

fn cond() -> impl Strategy<Value = String> {
    let key = 0usize..3;
    prop_oneof![
        (key.clone(), 0usize..6, 0usize..4).prop_map(|(k, op, v)| {
            let ops = ["=", "!=", "<", "<=", ">", ">="];
            format!(
                "metrics.{} {} {}",
                KEYS[k],
                ops[op],
                [-1.0, 0.0, 0.5, 2.0][v]
            )
        }),
        (
            prop_oneof![Just("params"), Just("tags")],
            key.clone(),
            0usize..6,
            0usize..4
        )
            .prop_map(|(e, k, op, v)| {
                match op {
                    4 => format!("{e}.{} IS NULL", KEYS[k]),
                    5 => format!("{e}.{} IS NOT NULL", KEYS[k]),
                    _ => {
                        let ops = ["=", "!=", "LIKE", "ILIKE"];
                        let pats = ["x", "x%", "%Y", "_1"];
                        format!(
                            "{e}.{} {} '{}'",
                            KEYS[k],
                            ops[op],
                            if op >= 2 { pats[v] } else { VALUES[v] }
                        )
                    }
                }
            }),
        (0usize..6, 0i64..5).prop_map(|(op, v)| {
            let ops = ["=", "!=", "<", "<=", ">", ">="];
            format!("attributes.start_time {} {}", ops[op], v)
        }),
    ]
}

fn filter() -> impl Strategy<Value = String> {
    let leaf = cond().boxed();
    leaf.prop_recursive(3, 8, 3, |inner| {
        (inner.clone(), prop_oneof![Just("AND"), Just("OR")], inner)
            .prop_map(|(a, op, b)| format!("({a}) {op} ({b})"))
    })
}

fn order() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        (
            prop_oneof![Just("metrics"), Just("params"), Just("tags")],
            0usize..3,
            any::<bool>(),
        ),
        0..2,
    )
    .prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        v.into_iter()
            .filter(|(e, k, _)| seen.insert((e.to_string(), *k)))
            .map(|(e, k, asc)| format!("{e}.{} {}", KEYS[k], if asc { "ASC" } else { "DESC" }))
            .collect()
    })
}

/// How a store orders param and tag values.
#[derive(Clone, Copy, PartialEq)]
enum StringOrder {
    Bytes,
    IgnoringCase,
}

/// `run` as `StringOrder::IgnoringCase` orders it under the byte order.
fn folded(run: &Run) -> Run {
    let mut run = run.clone();
    for p in &mut run.data.params {
        p.value = p.value.to_lowercase();
    }
    for t in &mut run.data.tags {
        t.value = t.value.to_lowercase();
    }
    run
}

/// One case: the runs of `specs` in a fresh store, searched with every filter and order.
async fn check(
    t: TestStore,
    specs: Vec<RunSpec>,
    filters: Vec<String>,
    orders: Vec<Vec<String>>,
    strings: StringOrder,
) {
    let s = &t.store;
    let mut runs: Vec<Run> = Vec::new();
    for spec in &specs {
        let id = s
            .create_run(CreateRun {
                experiment_id: "0".into(),
                start_time: Some(spec.start),
                ..Default::default()
            })
            .await
            .unwrap()
            .info
            .run_id;
        let mut seen = std::collections::HashSet::new();
        let params: Vec<Param> = spec
            .params
            .iter()
            .filter(|(k, _)| seen.insert(*k))
            .map(|(k, v)| Param::new(KEYS[*k], VALUES[*v]))
            .collect();
        let batch = Batch {
            metrics: spec
                .metrics
                .iter()
                .enumerate()
                .map(|(i, (k, v))| Metric::new(KEYS[*k], *v, i as i64, 0))
                .collect(),
            params,
            tags: spec
                .tags
                .iter()
                .map(|(k, v)| Tag::new(KEYS[*k], VALUES[*v]))
                .collect(),
        };
        s.log_batch(&id, batch).await.unwrap();
        runs.push(s.get_run(&id).await.unwrap());
    }
    for f in &filters {
        for o in &orders {
            let parsed = parse_run_filter(f).unwrap();
            let ord = parse_run_order_by(o).unwrap();
            let mut expected: Vec<Run> = runs
                .iter()
                .filter(|r| parsed.as_ref().is_none_or(|p| matches(p, r)))
                .cloned()
                .collect();
            match strings {
                StringOrder::Bytes => expected.sort_by(|a, b| compare(&ord, a, b)),
                StringOrder::IgnoringCase => {
                    expected.sort_by(|a, b| compare(&ord, &folded(a), &folded(b)))
                }
            }
            let expected: Vec<String> = expected.iter().map(|r| r.info.run_id.clone()).collect();
            let got = s
                .search_runs(RunSearch {
                    experiment_ids: vec!["0".into()],
                    filter: f.clone(),
                    view: ViewType::ActiveOnly,
                    max_results: 1000,
                    order_by: o.clone(),
                    page_token: None,
                })
                .await
                .unwrap();
            let got: Vec<String> = got.items.iter().map(|r| r.info.run_id.clone()).collect();
            assert_eq!(got, expected, "filter {f:?} order {o:?}");
        }
    }
}

fn run_case(
    store: fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = TestStore>>>,
    specs: Vec<RunSpec>,
    filters: Vec<String>,
    orders: Vec<Vec<String>>,
    strings: StringOrder,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { check(store().await, specs, filters, orders, strings).await });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn sql_search_agrees_with_the_in_memory_evaluator(
        specs in proptest::collection::vec(run_spec(), 1..8),
        filters in proptest::collection::vec(filter(), 1..6),
        orders in proptest::collection::vec(order(), 1..4),
    ) {
        run_case(|| Box::pin(sql_store()), specs, filters, orders, StringOrder::Bytes);
    }

    #[test]
    fn postgres_search_agrees_with_the_in_memory_evaluator(
        specs in proptest::collection::vec(run_spec(), 1..8),
        filters in proptest::collection::vec(filter(), 1..6),
        orders in proptest::collection::vec(order(), 1..4),
    ) {
        if crate::server_db::Engine::Postgres.configured() {
            run_case(|| Box::pin(async { crate::pg_store().await.unwrap() }), specs, filters, orders, StringOrder::Bytes);
        }
    }

    #[test]
    fn mysql_search_agrees_with_the_in_memory_evaluator(
        specs in proptest::collection::vec(run_spec(), 1..8),
        filters in proptest::collection::vec(filter(), 1..6),
        orders in proptest::collection::vec(order(), 1..4),
    ) {
        if crate::server_db::Engine::Mysql.configured() {
            run_case(|| Box::pin(async { crate::mysql_store().await.unwrap() }), specs, filters, orders, StringOrder::IgnoringCase);
        }
    }

    #[test]
    fn file_search_agrees_with_the_in_memory_evaluator(
        specs in proptest::collection::vec(run_spec(), 1..8),
        filters in proptest::collection::vec(filter(), 1..6),
        orders in proptest::collection::vec(order(), 1..4),
    ) {
        run_case(|| Box::pin(file_store()), specs, filters, orders, StringOrder::Bytes);
    }
}
