//! `ferroflow db upgrade`.

use anyhow::{Context, Result};
use ferroflow_store::sql::{HEAD_REVISION, MigrationOutcome};

use crate::args::DbCommand;
use crate::printer::Printer;
use crate::tracking::local_artifact_root;

pub async fn run(cmd: DbCommand, p: Printer) -> Result<()> {
    match cmd {
        DbCommand::Upgrade { url } => {
            let shown = ferroflow_core::uri::without_password(&url);
            let root = local_artifact_root();
            let outcome = tokio::task::spawn_blocking(move || {
                ferroflow_store::sql::upgrade_database(&url, &root, &mut |step: &str| p.note(step))
            })
            .await?
            .map_err(|e| anyhow::anyhow!("{}", e.message))
            .with_context(|| format!("cannot upgrade {shown}"))?;
            match outcome {
                MigrationOutcome::Created => p.out(format!(
                    "Created MLflow's schema (revision {HEAD_REVISION}, MLflow 3.17.2) in {shown}"
                )),
                MigrationOutcome::UpToDate => p.out(format!(
                    "{shown} is up to date (revision {HEAD_REVISION}, MLflow 3.17.2)"
                )),
                MigrationOutcome::Upgraded { from } => p.out(format!(
                    "Upgraded {shown} from MLflow revision {from} to {HEAD_REVISION} (MLflow 3.17.2)"
                )),
            }
        }
    }
    Ok(())
}
