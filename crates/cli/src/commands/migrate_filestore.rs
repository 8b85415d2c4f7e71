//! `ferroflow migrate-filestore`: MLflow's file store into a new SQLite database.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use ferroflow_store::sql::{Location, parse_database_uri};
use ferroflow_store::transfer::{MigrationReport, Progress, migrate_file_store};

use crate::args::MigrateFilestoreArgs;
use crate::printer::Printer;

/// A bad flag value: MLflow's wording, and a usage error's exit code.
fn bad_parameter(flag: &str, why: &str) -> Result<u8> {
    Printer { quiet: false }.note(format!("error: Invalid value for '{flag}': {why}"));
    Ok(2)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Asks on the terminal (or reads the answer from standard input) whether to replace `db`.
fn confirm_overwrite(db: &Path, p: Printer) -> bool {
    let answer = p.ask(&format!(
        "Database file already exists: {}\nOverwrite? [y/N]: ",
        db.display()
    ));
    answer.is_some_and(|a| matches!(a.to_ascii_lowercase().as_str(), "y" | "yes"))
}

pub async fn run(a: MigrateFilestoreArgs, p: Printer) -> Result<u8> {
    if !a.source.is_dir() {
        let why = if a.source.exists() {
            "is a file"
        } else {
            "does not exist"
        };
        return bad_parameter(
            "--source",
            &format!("Directory '{}' {why}.", a.source.display()),
        );
    }
    let path = match parse_database_uri(&a.target) {
        Ok(Location::SqliteFile(path)) if a.target.starts_with("sqlite:///") => path,
        _ => {
            return bad_parameter(
                "--target",
                "Must be a SQLite URI starting with 'sqlite:///'",
            );
        }
    };
    let db = absolute(Path::new(&path));
    let parent = db.parent().unwrap_or(Path::new("/"));
    if !parent.is_dir() {
        return bad_parameter(
            "--target",
            &format!("Parent directory does not exist: {}", parent.display()),
        );
    }
    if db.exists() && !confirm_overwrite(&db, p) {
        Printer { quiet: false }.note("Aborted!");
        return Ok(1);
    }
    let target_uri = format!("sqlite:///{}", db.display());
    let source = absolute(&a.source);
    // The later of --progress and --no-progress wins.
    let show = (a.progress || !a.no_progress) && !p.quiet;
    if show {
        p.out(format!("Source: {}", source.display()));
        p.out(format!("Target: {target_uri}"));
    }

    let report = tokio::task::spawn_blocking(move || {
        let progress = Reporter::new(show);
        let r = migrate_file_store(&source, &db, &|e| progress.on(e));
        progress.bar.finish_and_clear();
        r
    })
    .await??;
    print_report(&report, &target_uri, p);
    Ok(0)
}

/// Progress: a bar on a terminal, a line per tenth of the runs otherwise.
struct Reporter {
    show: bool,
    bar: indicatif::ProgressBar,
    last_tenth: std::sync::atomic::AtomicUsize,
}

impl Reporter {
    fn new(show: bool) -> Reporter {
        let bar = if show && std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} runs, {per_sec}, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Reporter {
            show,
            bar,
            last_tenth: std::sync::atomic::AtomicUsize::new(usize::MAX),
        }
    }

    fn on(&self, e: Progress) {
        if !self.show {
            return;
        }
        let line = |s: String| {
            if self.bar.is_hidden() {
                Printer { quiet: false }.note(s);
            } else {
                self.bar.set_message(s);
            }
        };
        match e {
            Progress::Scanning { experiments } => {
                line(format!("Found {experiments} experiment(s)"))
            }
            Progress::Runs { done, total } => {
                if !self.bar.is_hidden() {
                    self.bar.set_length(total as u64);
                    self.bar.set_position(done as u64);
                    self.bar.set_message("Migrating");
                    return;
                }
                let tenth = (done * 10).checked_div(total).unwrap_or(10);
                let prev = self
                    .last_tenth
                    .swap(tenth, std::sync::atomic::Ordering::Relaxed);
                if prev != tenth {
                    line(format!("Migrated {done}/{total} runs"));
                }
            }
            Progress::Registry { models } => {
                line(format!("Migrating {models} registered model(s)"));
            }
            Progress::Finishing => line("Building indexes and committing".to_string()),
        }
    }
}

fn print_report(r: &MigrationReport, target_uri: &str, p: Printer) {
    p.out("");
    p.out("Migration summary:");
    let rows: Vec<Vec<String>> = r
        .migrated
        .iter()
        .map(|(table, n)| {
            vec![
                table.to_string(),
                n.to_string(),
                r.in_database
                    .get(table)
                    .map_or_else(String::new, |c| c.to_string()),
            ]
        })
        .collect();
    p.table(&["entity", "migrated", "in DB"], &rows);
    if r.skipped.is_empty() {
        p.out("Nothing was skipped.");
    } else {
        p.out(format!("Skipped {} file(s):", r.skipped.len()));
        for (path, why) in &r.skipped {
            p.out(format!("  {}: {why}", path.display()));
        }
    }
    p.out(format!("  source: {}", r.source.display()));
    p.out(format!("  target: {target_uri}"));
    p.out("");
    p.out("To start a server with the migrated data:");
    p.out(format!(
        "  ferroflow server --backend-store-uri {target_uri}"
    ));
}
