//! `ferroflow runs ...`.

use anyhow::Result;
use ferroflow_core::entities::LifecycleStage;

use super::experiments::all_runs;
use super::{format_millis, user, view};
use crate::args::RunsCommand;
use crate::printer::Printer;
use crate::tracking;

pub async fn run(cmd: RunsCommand, p: Printer) -> Result<()> {
    let t = tracking::open(&tracking::client_uri().await).await?;
    let store = t.store.as_ref();
    match cmd {
        RunsCommand::List {
            experiment_id,
            view: v,
        } => {
            store.get_experiment(&experiment_id).await.map_err(user)?;
            let runs = all_runs(store, &experiment_id, view(v)).await?;
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    vec![
                        format_millis(r.info.start_time),
                        r.info.run_name.clone().unwrap_or_default(),
                        r.info.run_id.clone(),
                        r.info.status.to_string(),
                    ]
                })
                .collect();
            p.table(&["Date", "Name", "ID", "Status"], &rows);
        }
        RunsCommand::Describe { run_id } => {
            p.json(&store.get_run(&run_id).await.map_err(user)?);
        }
        RunsCommand::Delete { run_id } => {
            store
                .set_run_lifecycle(&run_id, LifecycleStage::Deleted)
                .await
                .map_err(user)?;
            p.out(format!(
                "Run {run_id} deleted (restore it with `ferroflow runs restore --run-id {run_id}`)"
            ));
        }
        RunsCommand::Restore { run_id } => {
            store
                .set_run_lifecycle(&run_id, LifecycleStage::Active)
                .await
                .map_err(user)?;
            p.out(format!("Run {run_id} restored"));
        }
    }
    Ok(())
}
