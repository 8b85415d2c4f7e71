//! `ferroflow experiments ...`.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use ferroflow_core::entities::{Experiment, LifecycleStage, Page, Run, ViewType};
use ferroflow_store::{ExperimentSearch, RunSearch, TrackingStore};

use super::{format_millis, user, view};
use crate::args::ExperimentsCommand;
use crate::printer::Printer;
use crate::tracking;

/// Every item of a paginated search: `fetch` gets a page token and returns a page.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = ferroflow_core::Result<Page<T>>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = fetch(token).await.map_err(user)?;
        out.extend(page.items);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

async fn all_experiments(
    store: &dyn TrackingStore,
    view: ViewType,
    filter: String,
    order_by: Vec<String>,
) -> Result<Vec<Experiment>> {
    all_pages(|page_token| {
        store.search_experiments(ExperimentSearch {
            filter: filter.clone(),
            view,
            max_results: 1000,
            order_by: order_by.clone(),
            page_token,
        })
    })
    .await
}

/// Every run of an experiment, page by page.
pub async fn all_runs(
    store: &dyn TrackingStore,
    experiment_id: &str,
    view: ViewType,
) -> Result<Vec<Run>> {
    all_pages(|page_token| {
        store.search_runs(RunSearch {
            experiment_ids: vec![experiment_id.to_string()],
            filter: String::new(),
            view,
            max_results: 1000,
            order_by: vec![],
            page_token,
        })
    })
    .await
}

fn print_experiments(p: &Printer, exps: &[Experiment]) {
    let rows: Vec<Vec<String>> = exps
        .iter()
        .map(|e| {
            let mut name = e.name.clone();
            if e.lifecycle_stage == LifecycleStage::Deleted {
                name.push_str(" (deleted)");
            }
            vec![e.experiment_id.clone(), name, e.artifact_location.clone()]
        })
        .collect();
    p.table(&["Experiment Id", "Name", "Artifact Location"], &rows);
}

pub async fn run(cmd: ExperimentsCommand, p: Printer) -> Result<()> {
    let t = tracking::open(&tracking::client_uri().await).await?;
    let store = t.store.as_ref();
    match cmd {
        ExperimentsCommand::Create {
            experiment_name,
            artifact_location,
        } => {
            let id = store
                .create_experiment(&experiment_name, artifact_location.as_deref(), vec![])
                .await
                .map_err(user)?;
            p.out(format!(
                "Created experiment '{experiment_name}' with id {id}"
            ));
        }
        ExperimentsCommand::List { view: v } => {
            let exps = all_experiments(store, view(v), String::new(), vec![]).await?;
            print_experiments(&p, &exps);
        }
        ExperimentsCommand::Search {
            view: v,
            filter,
            order_by,
        } => {
            let exps = all_experiments(store, view(v), filter, order_by).await?;
            print_experiments(&p, &exps);
        }
        ExperimentsCommand::Get { experiment_id } => {
            p.json(&store.get_experiment(&experiment_id).await.map_err(user)?);
        }
        ExperimentsCommand::Rename {
            experiment_id,
            new_name,
        } => {
            store
                .rename_experiment(&experiment_id, &new_name)
                .await
                .map_err(user)?;
            p.out(format!(
                "Experiment {experiment_id} is now named '{new_name}'"
            ));
        }
        ExperimentsCommand::Delete { experiment_id } => {
            store
                .set_experiment_lifecycle(&experiment_id, LifecycleStage::Deleted)
                .await
                .map_err(user)?;
            p.out(format!("Experiment {experiment_id} deleted (restore it with `ferroflow experiments restore -x {experiment_id}`)"));
        }
        ExperimentsCommand::Restore { experiment_id } => {
            store
                .set_experiment_lifecycle(&experiment_id, LifecycleStage::Active)
                .await
                .map_err(user)?;
            p.out(format!("Experiment {experiment_id} restored"));
        }
        ExperimentsCommand::Csv {
            experiment_id,
            filename,
        } => {
            store.get_experiment(&experiment_id).await.map_err(user)?;
            let runs = all_runs(store, &experiment_id, ViewType::ActiveOnly).await?;
            let out: Box<dyn std::io::Write> = match &filename {
                Some(f) => Box::new(
                    std::fs::File::create(f)
                        .with_context(|| format!("cannot create {}", f.display()))?,
                ),
                None => Box::new(std::io::stdout()),
            };
            write_csv(out, &runs)?;
            if let Some(f) = filename {
                p.note(format!("Wrote {} runs to {}", runs.len(), f.display()));
            }
        }
    }
    Ok(())
}

/// One row per run: its info, then `params.*`, `metrics.*` (latest values) and `tags.*`.
fn write_csv(out: Box<dyn std::io::Write>, runs: &[Run]) -> Result<()> {
    let mut params = BTreeSet::new();
    let mut metrics = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for r in runs {
        params.extend(r.data.params.iter().map(|x| x.key.clone()));
        metrics.extend(r.data.metrics.iter().map(|x| x.key.clone()));
        tags.extend(r.data.tags.iter().map(|x| x.key.clone()));
    }
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec![
        "run_id",
        "experiment_id",
        "run_name",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend(metrics.iter().map(|k| format!("metrics.{k}")));
    header.extend(params.iter().map(|k| format!("params.{k}")));
    header.extend(tags.iter().map(|k| format!("tags.{k}")));
    w.write_record(&header)?;
    for r in runs {
        let i = &r.info;
        let mut row = vec![
            i.run_id.clone(),
            i.experiment_id.clone(),
            i.run_name.clone().unwrap_or_default(),
            i.status.to_string(),
            i.artifact_uri.clone(),
            format_millis(i.start_time),
            i.end_time.map(format_millis).unwrap_or_default(),
        ];
        row.extend(
            metrics
                .iter()
                .map(|k| r.metric(k).map(|m| m.value.to_string()).unwrap_or_default()),
        );
        row.extend(
            params
                .iter()
                .map(|k| r.param(k).unwrap_or_default().to_string()),
        );
        row.extend(
            tags.iter()
                .map(|k| r.tag(k).unwrap_or_default().to_string()),
        );
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
