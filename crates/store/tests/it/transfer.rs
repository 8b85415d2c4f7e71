//! `transfer::migrate_file_store`: what the file store answers, the migrated database
//! answers too, field for field.

use ferroflow_core::entities::{
    Dataset, DatasetInput, LifecycleStage, LoggedModelStatus, Metric, ModelInput, ModelOutput,
    Param, RunStatus, Tag, ViewType,
};
use ferroflow_store::sql::{SqlStore, StoreOptions};
use ferroflow_store::transfer::{Progress, migrate_file_store};
use ferroflow_store::{
    Batch, CreateLoggedModel, CreateModelVersion, CreateRun, ExperimentSearch, LoggedModelSearch,
    RegistrySearch, RunSearch, RunUpdate,
};
use futures_util::StreamExt;

use crate::{Store, file_store};

/// As JSON, without `workspace` (the SQL store names the default one, as MLflow's does,
/// and the file store has none, as MLflow's has none) and with infinities as a database
/// keeps them (MLflow's SQL schema stores the largest double).
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s == "Infinity" => *v = serde_json::json!(f64::MAX),
            serde_json::Value::String(s) if s == "-Infinity" => *v = serde_json::json!(f64::MIN),
            serde_json::Value::Object(m) => {
                m.remove("workspace");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(v).unwrap();
    strip(&mut v);
    v
}

/// A file store with a bit of everything, written through its API.
async fn populate(s: &dyn Store) -> Vec<String> {
    let exp = s
        .create_experiment("wine", None, vec![Tag::new("team", "ml")])
        .await
        .unwrap();
    let gone = s.create_experiment("old", None, vec![]).await.unwrap();
    let mut runs = Vec::new();
    for i in 0..3 {
        let r = s
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: Some("u".into()),
                run_name: Some(format!("r{i}")),
                start_time: Some(1000 + i),
                tags: vec![Tag::new("k", format!("v{i}"))],
            })
            .await
            .unwrap();
        let id = r.info.run_id.clone();
        let mut metrics: Vec<Metric> = (0..20)
            .map(|s| Metric::new("loss", 1.0 / (s + 1 + i) as f64, 5000 + s, s))
            .collect();
        metrics.push(Metric::new("nested/acc", f64::NAN, 7000, 0));
        metrics.push(Metric::new("inf", f64::INFINITY, 7000, 0));
        s.log_batch(
            &id,
            Batch {
                metrics,
                params: vec![Param::new("alpha", format!("0.{i}"))],
                tags: vec![Tag::new("team/owner", "a")],
            },
        )
        .await
        .unwrap();
        s.update_run(
            &id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(9000 + i),
                run_name: None,
            },
        )
        .await
        .unwrap();
        runs.push(id);
    }
    s.log_inputs(
        &runs[0],
        vec![DatasetInput {
            tags: vec![Tag::new("mlflow.data.context", "training")],
            dataset: Dataset {
                name: "wine-train".into(),
                digest: "abc".into(),
                source_type: "local".into(),
                source: "{}".into(),
                schema: Some("{}".into()),
                profile: None,
            },
        }],
        vec![],
    )
    .await
    .unwrap();
    s.set_run_lifecycle(&runs[2], LifecycleStage::Deleted)
        .await
        .unwrap();
    let model = s
        .create_logged_model(CreateLoggedModel {
            experiment_id: exp.clone(),
            name: Some("lr".into()),
            model_type: Some("sklearn".into()),
            source_run_id: Some(runs[0].clone()),
            params: vec![Param::new("fit_intercept", "True")],
            tags: vec![Tag::new("t", "1")],
        })
        .await
        .unwrap();
    let model_id = model.info.model_id.clone();
    s.finalize_logged_model(&model_id, LoggedModelStatus::Ready)
        .await
        .unwrap();
    let mut m = Metric::new("acc", 0.9, 8000, 2);
    m.model_id = Some(model_id.clone());
    s.log_batch(
        &runs[0],
        Batch {
            metrics: vec![m],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.log_outputs(
        &runs[0],
        vec![ModelOutput {
            model_id: model_id.clone(),
            step: 2,
        }],
    )
    .await
    .unwrap();
    s.log_inputs(
        &runs[1],
        vec![],
        vec![ModelInput {
            model_id: model_id.clone(),
        }],
    )
    .await
    .unwrap();
    s.set_experiment_lifecycle(&gone, LifecycleStage::Deleted)
        .await
        .unwrap();

    s.create_registered_model("wine-model", vec![Tag::new("k", "v")], Some("d".into()))
        .await
        .unwrap();
    for run in &runs[..2] {
        let run_info = s.get_run(run).await.unwrap().info;
        s.create_model_version(CreateModelVersion {
            name: "wine-model".into(),
            source: format!("{}/model", run_info.artifact_uri),
            run_id: Some(run.clone()),
            tags: vec![Tag::new("vk", "vv")],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    s.transition_model_version_stage("wine-model", "1", "Staging", false)
        .await
        .unwrap();
    s.set_registered_model_alias("wine-model", "champion", "1")
        .await
        .unwrap();
    s.delete_model_version("wine-model", "2").await.unwrap();
    vec![exp, gone, model_id]
}

/// Everything a client can read, as JSON.
async fn read_all(s: &dyn Store, ids: &[String]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let exps = s
        .search_experiments(ExperimentSearch {
            filter: String::new(),
            view: ViewType::All,
            max_results: 100,
            order_by: vec![],
            page_token: None,
        })
        .await
        .unwrap();
    out.push(json(&exps.items));
    let exp_ids: Vec<String> = exps.items.iter().map(|e| e.experiment_id.clone()).collect();
    let runs = s
        .search_runs(RunSearch {
            experiment_ids: exp_ids.clone(),
            filter: String::new(),
            view: ViewType::All,
            max_results: 100,
            order_by: vec![],
            page_token: None,
        })
        .await
        .unwrap();
    assert_eq!(runs.items.len(), 3);
    out.push(json(&runs.items));
    for r in &runs.items {
        out.push(json(&s.get_run(&r.info.run_id).await.unwrap()));
        for key in ["loss", "nested/acc", "inf", "acc"] {
            let h = s
                .metric_history(&r.info.run_id, key, None, None)
                .await
                .unwrap();
            let points: Vec<_> = h.points.collect().await;
            let points: Vec<_> = points.into_iter().flat_map(|b| b.unwrap()).collect();
            let points: Vec<_> = points
                .into_iter()
                .map(|p| {
                    (
                        p.step,
                        p.timestamp,
                        p.value.clamp(f64::MIN, f64::MAX).to_string(),
                    )
                })
                .collect();
            out.push(json(&points));
        }
    }
    out.push(json(&s.search_dataset_summaries(&exp_ids).await.unwrap()));
    out.push(json(&s.get_logged_model(&ids[2]).await.unwrap()));
    out.push(json(
        &s.search_logged_models(LoggedModelSearch {
            experiment_ids: exp_ids,
            filter: String::new(),
            order_by: vec![],
            datasets: vec![],
            max_results: 100,
            page_token: None,
        })
        .await
        .unwrap()
        .items,
    ));
    let all = || RegistrySearch {
        filter: String::new(),
        max_results: 100,
        order_by: vec![],
        page_token: None,
    };
    out.push(json(
        &s.search_registered_models(all()).await.unwrap().items,
    ));
    out.push(json(&s.search_model_versions(all()).await.unwrap().items));
    out.push(json(
        &s.get_model_version_by_alias("wine-model", "champion")
            .await
            .unwrap(),
    ));
    out
}

#[tokio::test]
async fn a_migrated_file_store_answers_as_the_file_store_did() {
    let t = file_store().await;
    let ids = populate(&*t.store).await;
    let before = read_all(&*t.store, &ids).await;

    let target = t.dir.path().join("mlflow.db");
    let seen = std::sync::Mutex::new(Vec::new());
    let report = migrate_file_store(t.dir.path(), &target, &|p| {
        seen.lock().unwrap().push(p);
    })
    .unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.source, t.dir.path().join("mlruns"));
    let migrated: std::collections::BTreeMap<_, _> = report.migrated.iter().cloned().collect();
    for (table, n) in &migrated {
        assert_eq!(report.in_database.get(table), Some(n), "{table}");
    }
    assert_eq!(migrated["runs"], 3);
    assert_eq!(migrated["metrics"], 3 * 22 + 1);
    assert_eq!(migrated["model_versions"], 2, "the deleted version is kept");
    assert!(matches!(
        seen.lock().unwrap().last(),
        Some(Progress::Finishing)
    ));
    assert!(!ferroflow_store::transfer::partial_path(&target).exists());

    let db = SqlStore::open(
        &format!("sqlite:///{}", target.display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let after = read_all(&db, &ids).await;
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        assert_eq!(a, b, "answer {i} differs");
    }
    assert_eq!(before.len(), after.len());
}
