//! MLflow Projects: what `ferroflow run` does.
//!
//! A project is a directory (local, or checked out of a git repository) with an optional
//! `MLproject` file. [`spec`] reads that file; [`params`] checks the user's parameters
//! against an entry point and builds its shell command; [`source`] finds or fetches the
//! directory; [`env`] prepares the Python environment it runs in; [`runner`] creates the
//! MLflow run, starts the command and records how it ended.

pub mod env;
pub mod error;
pub mod params;
pub mod runner;
pub mod source;
pub mod spec;
mod yaml;

pub use error::{Error, Result};
