//! The error of everything a project run can refuse or fail at, each with a message that
//! names the problem.

/// Why a project could not be loaded, prepared or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The MLproject file (or an environment file) does not parse or says something invalid.
    #[error("{file}: {message}")]
    Spec { file: String, message: String },
    /// The user's entry point or parameters do not fit the project.
    #[error("{0}")]
    Usage(String),
    /// A git source could not be fetched or checked out.
    #[error("{0}")]
    Git(String),
    /// The environment could not be built.
    #[error("{0}")]
    Env(String),
    /// The tracking store refused a call.
    #[error("{}", .0.message)]
    Tracking(#[from] ferroflow_core::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches what was being done to an I/O error.
pub(crate) trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: what(),
            source,
        })
    }
}
