use ferroflow_core::ErrorCode;
use ferroflow_core::entities::{LifecycleStage, Tag};
use ferroflow_store::model_uri::{ResolvedModel, resolve};
use ferroflow_store::{CreateModelVersion, CreateRun, RegistrySearch, TrackingStore};

use crate::TestStore;

async fn run_with_model(store: &dyn TrackingStore) -> (String, String) {
    let run = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            user_id: None,
            run_name: None,
            start_time: Some(1),
            tags: vec![],
        })
        .await
        .unwrap();
    (run.info.run_id.clone(), run.info.artifact_uri)
}

fn version_of(name: &str, run_id: &str) -> CreateModelVersion {
    CreateModelVersion {
        name: name.into(),
        source: format!("runs:/{run_id}/model"),
        run_id: Some(run_id.into()),
        ..Default::default()
    }
}

fn search(filter: &str, order: &[&str]) -> RegistrySearch {
    RegistrySearch {
        filter: filter.into(),
        max_results: 100,
        order_by: order.iter().map(|s| s.to_string()).collect(),
        page_token: None,
    }
}

pub async fn concurrent_registrations_number_versions_without_gaps_or_repeats(t: TestStore) {
    let store = t.store.clone();
    let (run_id, _) = run_with_model(store.as_ref()).await;
    store
        .create_registered_model("m", vec![], None)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (store, run_id) = (store.clone(), run_id.clone());
            tokio::spawn(async move {
                store
                    .create_model_version(version_of("m", &run_id))
                    .await
                    .unwrap()
                    .version
            })
        })
        .collect();
    let mut got: Vec<i64> = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().parse().unwrap());
    }
    got.sort();
    assert_eq!(got, (1..=40).collect::<Vec<_>>());
    // A deleted number is never given again.
    store.delete_model_version("m", "40").await.unwrap();
    assert_eq!(
        store
            .create_model_version(version_of("m", &run_id))
            .await
            .unwrap()
            .version,
        "41"
    );
}

pub async fn stages_aliases_and_the_resolver(t: TestStore) {
    let store = &*t.store;
    let (run_id, artifacts) = run_with_model(store).await;
    store
        .create_registered_model("wine", vec![Tag::new("team", "a")], Some("d".into()))
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .create_model_version(version_of("wine", &run_id))
            .await
            .unwrap();
    }
    store
        .transition_model_version_stage("wine", "1", "production", false)
        .await
        .unwrap();
    store
        .transition_model_version_stage("wine", "2", "Production", true)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version("wine", "1")
            .await
            .unwrap()
            .current_stage,
        "Archived"
    );
    store
        .set_registered_model_alias("wine", "champion", "1")
        .await
        .unwrap();

    let expect = format!("{artifacts}/model");
    for (uri, version) in [
        ("models:/wine/1", "1"),
        ("models:/wine/Production", "2"),
        ("models:/wine@champion", "1"),
        ("models:/wine/latest", "3"),
    ] {
        let r = resolve(store, store, uri).await.unwrap();
        assert_eq!(
            r,
            ResolvedModel {
                artifact_uri: expect.clone(),
                version: Some(("wine".into(), version.into()))
            },
            "{uri}"
        );
    }
    let sub = resolve(store, store, "models:/wine/1/MLmodel")
        .await
        .unwrap();
    assert_eq!(sub.artifact_uri, format!("{expect}/MLmodel"));
    let missing = resolve(store, store, "models:/wine/Staging")
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    let unknown = resolve(store, store, "models:/nope/1").await.unwrap_err();
    assert_eq!(unknown.message, "Registered Model with name=nope not found");
    assert_eq!(
        resolve(store, store, "models:/").await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
}

pub async fn rename_search_and_delete(t: TestStore) {
    let store = &*t.store;
    let (run_id, _) = run_with_model(store).await;
    for name in ["b-model", "a-model", "a-other"] {
        store
            .create_registered_model(name, vec![Tag::new("kind", &name[..1])], None)
            .await
            .unwrap();
        store
            .create_model_version(version_of(name, &run_id))
            .await
            .unwrap();
    }
    let names = |p: ferroflow_core::entities::Page<ferroflow_core::entities::RegisteredModel>| {
        p.items.into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            store
                .search_registered_models(search("", &[]))
                .await
                .unwrap()
        ),
        ["a-model", "a-other", "b-model"]
    );
    assert_eq!(
        names(
            store
                .search_registered_models(search("tags.kind = 'a'", &["name DESC"]))
                .await
                .unwrap()
        ),
        ["a-other", "a-model"]
    );
    let err = store
        .rename_registered_model("a-model", "b-model")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    store
        .set_registered_model_alias("a-model", "prod", "1")
        .await
        .unwrap();
    store
        .rename_registered_model("a-model", "c-model")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias("c-model", "prod")
            .await
            .unwrap()
            .name,
        "c-model"
    );
    let versions = store
        .search_model_versions(search("name = 'c-model'", &[]))
        .await
        .unwrap();
    assert_eq!(versions.items.len(), 1);
    store.delete_registered_model("c-model").await.unwrap();
    assert_eq!(
        store
            .get_registered_model("c-model")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert!(
        store
            .search_model_versions(search("name = 'c-model'", &[]))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A deleted run whose artifacts back a version is kept by garbage collection.
    store
        .set_run_lifecycle(&run_id, LifecycleStage::Deleted)
        .await
        .unwrap();
    let g = store.garbage(None).await.unwrap();
    assert!(g.runs.is_empty());
    assert_eq!(
        g.kept_runs,
        vec![(
            run_id.clone(),
            vec!["a-other/1".to_string(), "b-model/1".to_string()]
        )]
    );
}
