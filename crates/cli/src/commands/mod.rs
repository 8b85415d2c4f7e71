//! One module per command family.

mod artifacts;
mod db;
mod experiments;
mod gc;
mod migrate_filestore;
mod models;
mod project;
mod runs;
mod server;

use anyhow::Result;

use crate::args::{Command, View};
use crate::printer::Printer;
use ferroflow_core::entities::ViewType;

/// Runs `command`; answers the process's exit code.
pub async fn run(command: Command, p: Printer) -> Result<u8> {
    match command {
        Command::Server(a) | Command::Ui(a) => server::run(a, p).await.map(|()| 0),
        Command::Experiments(c) => experiments::run(c, p).await.map(|()| 0),
        Command::Runs(c) => runs::run(c, p).await.map(|()| 0),
        Command::Artifacts(c) => artifacts::run(c, p).await.map(|()| 0),
        Command::Db(c) => db::run(c, p).await.map(|()| 0),
        Command::Gc(a) => gc::run(a, p).await.map(|()| 0),
        Command::MigrateFilestore(a) => migrate_filestore::run(a, p).await,
        Command::Run(a) => project::run(a, p).await,
        Command::Models(c) => models::run(c, p).await,
    }
}

pub fn view(v: View) -> ViewType {
    match v {
        View::ActiveOnly => ViewType::ActiveOnly,
        View::DeletedOnly => ViewType::DeletedOnly,
        View::All => ViewType::All,
    }
}

/// `ferroflow_core::Error` carries a user-facing message; keep it as is.
pub fn user(e: ferroflow_core::Error) -> anyhow::Error {
    anyhow::anyhow!(e.message)
}

/// Milliseconds as a local-agnostic UTC timestamp, `2026-11-23 05:53:07`.
pub fn format_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Listens on `host:port` (IPv6 hosts bracketed), answering the listener and the address.
pub(crate) async fn listen(host: &str, port: u16) -> Result<(tokio::net::TcpListener, String)> {
    use anyhow::Context;
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    Ok((listener, addr))
}

/// Resolves on SIGINT or SIGTERM: servers then finish in-flight requests and stop.
/// A server's connection bounds from its flags. The soft open-file limit is raised to the
/// hard one first, and the connection cap kept under it with room for the database, the
/// artifacts and the listener, so a flood of sockets meets a 503, not a failing `accept`.
pub(crate) fn connection_limits(a: &crate::args::ConnArgs) -> ferroflow_server::listen::Limits {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const RESERVED: u64 = 256;
    let files = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                tracing::debug!(from = soft, to = hard, "raised the open-file limit");
                hard
            } else {
                soft
            }
        }
        Err(_) => u64::MAX,
    };
    let cap = a.max_connections.min(files.saturating_sub(RESERVED).max(1));
    if cap < a.max_connections {
        tracing::warn!(
            requested = a.max_connections,
            cap,
            "--max-connections lowered to fit the open-file limit ({files})"
        );
    }
    ferroflow_server::listen::Limits {
        header_timeout: std::time::Duration::from_secs(a.header_timeout),
        body_timeout: std::time::Duration::from_secs(a.body_timeout),
        max_connections: usize::try_from(cap).unwrap_or(usize::MAX),
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_millis(0), "1970-01-01 00:00:00");
        assert_eq!(
            super::format_millis(1_795_413_187_000),
            "2026-11-23 05:53:07"
        );
    }
}
