//! `ferroflow db upgrade`.

use anyhow::Result;
use ferroflow_store::sql::{HEAD_REVISION, MigrationOutcome};

use crate::args::DbCommand;
use crate::printer::Printer;
use crate::tracking::{local_artifact_root, open_sql};

pub async fn run(cmd: DbCommand, p: Printer) -> Result<()> {
    match cmd {
        DbCommand::Upgrade { url } => {
            let store = open_sql(&url, &local_artifact_root()).await?;
            let url = ferroflow_core::uri::without_password(&url);
            match store.migration() {
                MigrationOutcome::Created => p.out(format!(
                    "Created MLflow's schema (revision {HEAD_REVISION}, MLflow 3.17.2) in {url}"
                )),
                MigrationOutcome::UpToDate => p.out(format!(
                    "{url} is up to date (revision {HEAD_REVISION}, MLflow 3.17.2)"
                )),
            }
        }
    }
    Ok(())
}
