use ferroflow_core::ErrorCode;
use ferroflow_core::entities::{LifecycleStage, Metric, Param, Point, RunStatus, Tag, ViewType};
use ferroflow_store::{Batch, CreateRun, ExperimentSearch, MetricHistory, RunSearch, RunUpdate};
use futures_util::StreamExt;

use crate::TestStore;

async fn points_and_token(h: MetricHistory) -> (Vec<Point>, Option<String>) {
    let batches: Vec<_> = h.points.collect().await;
    let pts = batches.into_iter().flat_map(|b| b.unwrap()).collect();
    (pts, h.next_page_token.await.unwrap())
}

async fn points(h: MetricHistory) -> Vec<Point> {
    points_and_token(h).await.0
}

fn run_req(exp: &str) -> CreateRun {
    CreateRun {
        experiment_id: exp.into(),
        user_id: Some("u".into()),
        run_name: None,
        start_time: Some(1000),
        tags: vec![],
    }
}

fn search(exp: &str, filter: &str, order: &[&str]) -> RunSearch {
    RunSearch {
        experiment_ids: vec![exp.into()],
        filter: filter.into(),
        view: ViewType::ActiveOnly,
        max_results: 1000,
        order_by: order.iter().map(|s| s.to_string()).collect(),
        page_token: None,
    }
}

pub async fn a_new_database_has_the_default_experiment(t: TestStore) {
    let e = t.store.get_experiment("0").await.unwrap();
    assert_eq!(e.name, "Default");
    assert_eq!(e.artifact_location, "mlflow-artifacts:/0");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Active);
}

pub async fn experiments_lifecycle(t: TestStore) {
    let s = &*t.store;
    let id = s
        .create_experiment("wine", None, vec![Tag::new("team", "a")])
        .await
        .unwrap();
    // Ids differ between stores (the next integer, or a random one as MLflow's file store).
    assert!(id.parse::<i64>().is_ok_and(|n| n > 0), "{id}");
    let e = s.get_experiment(&id).await.unwrap();
    assert_eq!(e.artifact_location, format!("mlflow-artifacts:/{id}"));
    assert_eq!(e.tags, vec![Tag::new("team", "a")]);
    let dup = s.create_experiment("wine", None, vec![]).await.unwrap_err();
    assert_eq!(dup.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    s.rename_experiment(&id, "wine2").await.unwrap();
    assert!(s.get_experiment_by_name("wine").await.unwrap().is_none());
    s.set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await
        .unwrap();
    let page = s
        .search_experiments(ExperimentSearch {
            filter: String::new(),
            view: ViewType::ActiveOnly,
            max_results: 10,
            order_by: vec![],
            page_token: None,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    s.set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await
        .unwrap();
    let page = s
        .search_experiments(ExperimentSearch {
            filter: "name LIKE 'wine%'".into(),
            view: ViewType::ActiveOnly,
            max_results: 10,
            order_by: vec![],
            page_token: None,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        s.get_experiment("42").await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert_eq!(
        s.get_experiment("x").await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
}

pub async fn runs_log_and_read_back(t: TestStore) {
    let s = &*t.store;
    let run = s.create_run(run_req("0")).await.unwrap();
    let id = run.info.run_id.clone();
    assert_eq!(run.info.status, RunStatus::Running);
    assert!(
        run.info
            .artifact_uri
            .ends_with(&format!("/0/{id}/artifacts"))
    );
    assert!(run.tag("mlflow.runName").is_some());
    s.log_batch(
        &id,
        Batch {
            metrics: vec![
                Metric::new("loss", 1.0, 10, 0),
                Metric::new("loss", 0.5, 20, 1),
                Metric::new("nan", f64::NAN, 10, 0),
            ],
            params: vec![Param::new("alpha", "0.5")],
            tags: vec![Tag::new("t", "v")],
        },
    )
    .await
    .unwrap();
    let err = s
        .log_batch(
            &id,
            Batch {
                params: vec![Param::new("alpha", "0.7")],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.message.contains("Changing param values is not allowed"),
        "{}",
        err.message
    );
    // the same value again is fine
    s.log_batch(
        &id,
        Batch {
            params: vec![Param::new("alpha", "0.5")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let run = s.get_run(&id).await.unwrap();
    assert_eq!(run.metric("loss").unwrap().value, 0.5);
    assert!(run.metric("nan").unwrap().value.is_nan());
    assert_eq!(run.param("alpha"), Some("0.5"));
    let h = s.metric_history(&id, "loss", None, None).await.unwrap();
    let pts: Vec<_> = points(h).await.into_iter().map(|p| p.step).collect();
    assert_eq!(pts, vec![0, 1]);
    let info = s
        .update_run(
            &id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(2000),
                run_name: Some("renamed".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.run_name.as_deref(), Some("renamed"));
    assert_eq!(
        s.get_run(&id).await.unwrap().tag("mlflow.runName"),
        Some("renamed")
    );
    s.set_run_lifecycle(&id, LifecycleStage::Deleted)
        .await
        .unwrap();
    let err = s
        .log_batch(
            &id,
            Batch {
                tags: vec![Tag::new("x", "y")],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    assert!(
        s.search_runs(search("0", "", &[]))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let g = s.garbage(None).await.unwrap();
    assert_eq!(g.runs.len(), 1);
    s.purge_run(&id).await.unwrap();
    assert_eq!(
        s.get_run(&id).await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
}

pub async fn history_paginates(t: TestStore) {
    let s = &*t.store;
    let id = s.create_run(run_req("0")).await.unwrap().info.run_id;
    let metrics: Vec<Metric> = (0..25).map(|i| Metric::new("m", i as f64, i, i)).collect();
    s.log_batch(
        &id,
        Batch {
            metrics,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let h = s.metric_history(&id, "m", Some(10), None).await.unwrap();
    let (first, token) = points_and_token(h).await;
    assert_eq!(first.len(), 10);
    let token = token.expect("a next page");
    let h = s
        .metric_history(&id, "m", Some(10), Some(token))
        .await
        .unwrap();
    let second: Vec<_> = points(h).await.into_iter().map(|p| p.step).collect();
    assert_eq!(second, (10..20).collect::<Vec<_>>());
    // A zoomed chart seeks to its first step.
    let h = s.metric_history_from(&id, "m", 20).await.unwrap();
    let from: Vec<_> = points(h).await.into_iter().map(|p| p.step).collect();
    assert_eq!(from, (20..25).collect::<Vec<_>>());
    let bulk = s
        .metric_history_bulk_interval(std::slice::from_ref(&id), "m", Some(0), Some(24), 5)
        .await
        .unwrap();
    assert_eq!(bulk.len(), 5);
    assert_eq!(bulk[0].run_id.as_deref(), Some(id.as_str()));
}

pub async fn bulk_history_orders_by_run_then_time_and_counts_overall(t: TestStore) {
    let s = &*t.store;
    let mut ids = vec![];
    for _ in 0..3 {
        let id = s.create_run(run_req("0")).await.unwrap().info.run_id;
        // Logged with time running backwards against the steps.
        let metrics = (0..4)
            .map(|i| Metric::new("m", i as f64, 100 - i, i))
            .collect();
        s.log_batch(
            &id,
            Batch {
                metrics,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let mut asked = ids.clone();
    asked.push("no-such-run".into());
    let got = s.metric_history_bulk(&asked, "m", 100).await.unwrap();
    let mut sorted = ids.clone();
    sorted.sort();
    let want: Vec<(String, i64)> = sorted
        .iter()
        .flat_map(|id| (0..4).rev().map(move |step| (id.clone(), step)))
        .collect();
    let seen: Vec<(String, i64)> = got
        .iter()
        .map(|m| (m.run_id.clone().unwrap(), m.step))
        .collect();
    assert_eq!(seen, want);
    assert_eq!(
        s.metric_history_bulk(&asked, "m", 5).await.unwrap().len(),
        5
    );
    assert!(
        s.metric_history_bulk(&asked, "other", 5)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn search_filters_and_orders(t: TestStore) {
    let s = &*t.store;
    let mut ids = vec![];
    for i in 0..5 {
        let mut req = run_req("0");
        req.start_time = Some(1000 + i);
        let id = s.create_run(req).await.unwrap().info.run_id;
        s.log_batch(
            &id,
            Batch {
                metrics: vec![Metric::new("rmse", i as f64 / 10.0, 1, 0)],
                params: vec![Param::new("alpha", format!("{i}"))],
                tags: vec![],
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let page = s
        .search_runs(search("0", "metrics.rmse < 0.25", &["metrics.rmse DESC"]))
        .await
        .unwrap();
    let got: Vec<_> = page.items.iter().map(|r| r.info.run_id.clone()).collect();
    assert_eq!(got, vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    let page = s
        .search_runs(search("0", "params.alpha = '3' OR params.alpha = '4'", &[]))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let mut q = search("0", "", &[]);
    q.max_results = 2;
    let p1 = s.search_runs(q.clone()).await.unwrap();
    assert_eq!(p1.items.len(), 2);
    q.page_token = p1.next_page_token;
    let p2 = s.search_runs(q.clone()).await.unwrap();
    assert_eq!(p2.items[0].info.start_time, 1002);
    let bad = s
        .search_runs(search("0", "metrics.rmse <", &[]))
        .await
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::INVALID_PARAMETER_VALUE);
}

pub async fn concurrent_writes_are_grouped_and_all_land(t: TestStore) {
    let s = t.store.clone();
    let id = s.create_run(run_req("0")).await.unwrap().info.run_id;
    let mut handles = vec![];
    for i in 0..64 {
        let s = s.clone();
        let id = id.clone();
        handles.push(tokio::spawn(async move {
            s.log_batch(
                &id,
                Batch {
                    metrics: vec![Metric::new("m", i as f64, i, i)],
                    ..Default::default()
                },
            )
            .await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let h = s.metric_history(&id, "m", None, None).await.unwrap();
    assert_eq!(points(h).await.len(), 64);
    assert_eq!(s.get_run(&id).await.unwrap().metric("m").unwrap().step, 63);
}

pub async fn a_failing_write_fails_alone_in_its_group(t: TestStore) {
    let s = t.store.clone();
    let live = s.create_run(run_req("0")).await.unwrap().info.run_id;
    let dead = s.create_run(run_req("0")).await.unwrap().info.run_id;
    s.log_batch(
        &live,
        Batch {
            params: vec![Param::new("p", "1")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.set_run_lifecycle(&dead, LifecycleStage::Deleted)
        .await
        .unwrap();
    let mut handles = vec![];
    for i in 0..48i64 {
        let s = s.clone();
        let (live, dead) = (live.clone(), dead.clone());
        handles.push(tokio::spawn(async move {
            match i % 4 {
                // merged metric writes, to a live and to a deleted run
                0 => (
                    0,
                    s.log_batch(
                        &live,
                        Batch {
                            metrics: vec![Metric::new("m", i as f64, i, i)],
                            ..Default::default()
                        },
                    )
                    .await,
                ),
                1 => (
                    1,
                    s.log_batch(
                        &dead,
                        Batch {
                            metrics: vec![Metric::new("m", 1.0, 1, i)],
                            ..Default::default()
                        },
                    )
                    .await,
                ),
                // closures: a param conflict, and a good tag
                2 => (
                    2,
                    s.log_batch(
                        &live,
                        Batch {
                            params: vec![Param::new("p", "2")],
                            ..Default::default()
                        },
                    )
                    .await,
                ),
                _ => (
                    3,
                    s.log_batch(
                        &live,
                        Batch {
                            tags: vec![Tag::new(format!("t{i}"), "v")],
                            ..Default::default()
                        },
                    )
                    .await,
                ),
            }
        }));
    }
    for h in handles {
        let (kind, result) = h.await.unwrap();
        match kind {
            0 | 3 => result.unwrap(),
            _ => assert_eq!(result.unwrap_err().code, ErrorCode::INVALID_PARAMETER_VALUE),
        }
    }
    let run = s.get_run(&live).await.unwrap();
    assert_eq!(run.param("p"), Some("1"));
    assert_eq!(
        run.data
            .tags
            .iter()
            .filter(|t| t.key.starts_with('t'))
            .count(),
        12
    );
    let h = s.metric_history(&live, "m", None, None).await.unwrap();
    assert_eq!(points(h).await.len(), 12);
    let h = s.metric_history(&dead, "m", None, None).await.unwrap();
    assert!(points(h).await.is_empty());
}
