//! A server announces itself beside its SQLite database, so that a client command started
//! without MLFLOW_TRACKING_URI, whose default database is that one, talks to the server
//! instead of opening the file underneath it.
//!
//! This is what makes `ferroflow ui` in a directory, then `ferroflow run .` there (seed
//! 002's order) work: the runs' artifacts go through the server's artifact proxy (the
//! database's experiments have `mlflow-artifacts:/` locations, which a script logging
//! straight to SQLite cannot write), and the UI shows them as they are logged.
//!
//! The announcement is `.<database file name>.ferroflow-server` in the database's
//! directory, holding the server's URL; the server removes it when it stops. A file left by
//! a server that was killed is ignored: the URL must answer `/version` as a ferroflow.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferroflow_store::sql::{Location, parse_database_uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The announcement file of the database at `uri` (relative paths against `cwd`).
fn announcement_path(uri: &str, cwd: &Path) -> Option<PathBuf> {
    let Location::SqliteFile(path) = parse_database_uri(uri).ok()? else {
        return None;
    };
    let db = cwd.join(path);
    let name = db.file_name()?.to_string_lossy().into_owned();
    Some(db.with_file_name(format!(".{name}.ferroflow-server")))
}

/// A written announcement; dropping it removes the file.
pub struct Announcement(PathBuf);

impl Drop for Announcement {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Announces that `url` serves the database at `uri`. Failing to write is not an error:
/// clients then use the database directly, as without a server.
pub fn announce(uri: &str, url: &str) -> Option<Announcement> {
    let path = announcement_path(uri, &std::env::current_dir().ok()?)?;
    std::fs::write(&path, format!("{url}\n")).ok()?;
    Some(Announcement(path))
}

/// The URL of a live ferroflow server that serves the database at `uri`, if one announced
/// itself.
pub async fn find(uri: &str) -> Option<String> {
    let path = announcement_path(uri, &std::env::current_dir().ok()?)?;
    let url = std::fs::read_to_string(path).ok()?.trim().to_string();
    let fut = answers_health(&url);
    match tokio::time::timeout(Duration::from_secs(2), fut).await {
        Ok(true) => Some(url),
        _ => None,
    }
}

/// Whether `url` answers `GET /version` as a ferroflow server (the `x-ferroflow-version`
/// header), over plain HTTP on the loopback or local address it names.
async fn answers_health(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let Ok(mut stream) = tokio::net::TcpStream::connect(authority).await else {
        return false;
    };
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{}", prefix.trim_end_matches('/'))
    };
    let request = format!("GET {prefix}/version HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::with_capacity(1024);
    let _ = stream.take(4096).read_to_end(&mut buf).await;
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    head.starts_with("http/1.")
        && head.split_whitespace().nth(1) == Some("200")
        && head.contains("x-ferroflow-version")
}

/// The URL clients use for a server bound to `host:port` (an unspecified address is
/// reached on the loopback).
pub fn client_url(host: &str, port: u16, prefix: &str) -> String {
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{port}{prefix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_sit_beside_the_database() {
        assert_eq!(
            announcement_path("sqlite:///mlflow.db", Path::new("/w")),
            Some(PathBuf::from("/w/.mlflow.db.ferroflow-server"))
        );
        assert_eq!(
            announcement_path("sqlite:////data/x.db", Path::new("/w")),
            Some(PathBuf::from("/data/.x.db.ferroflow-server"))
        );
        assert_eq!(client_url("0.0.0.0", 5000, ""), "http://127.0.0.1:5000");
        assert_eq!(client_url("::1", 5000, "/p"), "http://[::1]:5000/p");
    }
}
