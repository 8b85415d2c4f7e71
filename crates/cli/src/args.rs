//! The command line, declared. Doc comments are the `--help` texts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env;

/// Ferroflow: the MLflow-compatible machine-learning lifecycle platform, in one binary.
///
/// Client commands (experiments, runs, artifacts) work against the tracking URI in
/// MLFLOW_TRACKING_URI: a server (http://127.0.0.1:5000) or a database (sqlite:///mlflow.db,
/// the default).
#[derive(Debug, Parser)]
#[command(
    name = "ferroflow",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Print only results, no notes or progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log more (repeat for more detail); FERROFLOW_LOG sets a precise filter.
    #[arg(long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the tracking server: MLflow's REST API and the artifact proxy.
    Server(ServerArgs),
    /// Run the tracking server (the same as `server`, as `mlflow ui` is).
    Ui(ServerArgs),
    /// Create, list, rename, delete and restore experiments.
    #[command(subcommand)]
    Experiments(ExperimentsCommand),
    /// List, describe, delete and restore runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// List, download and upload run artifacts.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Manage the tracking database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Permanently delete runs and experiments in the `deleted` stage, with their artifacts.
    Gc(GcArgs),
    /// Copy MLflow's file store (an `mlruns` directory) into a new SQLite database.
    ///
    /// Everything is kept: experiment and run ids, timestamps, lifecycle stages, deleted
    /// runs and experiments, params, every metric point, tags, datasets and run inputs,
    /// logged models and their links to runs, and the model registry (versions, stages,
    /// aliases, tags). The source is only read. The database is built under a temporary
    /// name and moved into place when complete, so an interrupted migration leaves
    /// nothing half-written; run it again. Artifacts stay where they are: runs keep their
    /// artifact URIs.
    ///
    /// Example:
    ///   ferroflow migrate-filestore --source . --target sqlite:///mlflow.db
    #[command(name = "migrate-filestore", verbatim_doc_comment)]
    MigrateFilestore(MigrateFilestoreArgs),
    /// Run an MLflow project (a directory or git repository with an MLproject file) as an
    /// MLflow run.
    ///
    /// The project is fetched (git URLs are mirrored into ~/.cache/ferroflow), its
    /// parameters are checked, its environment is built (or reused), and its entry point
    /// runs with MLFLOW_RUN_ID, MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID set, so that
    /// the script's mlflow.start_run() logs into the run. The run ends FINISHED, FAILED or
    /// KILLED (Ctrl-C), and ferroflow exits with the command's exit code.
    ///
    /// Examples:
    ///   ferroflow run .
    ///   ferroflow run -e huber . -P alpha=0.47 -P epsilon=1
    ///   ferroflow run https://github.com/org/repo#sub/dir --version v1.2 --env-manager local
    ///   ferroflow run -e classifier . --experiment-name classifier
    #[command(verbatim_doc_comment, disable_version_flag = true)]
    Run(RunArgs),
    /// Serve a model over HTTP, or predict with it on a file.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Serve a model: POST /invocations (and the V2 protocol with --enable-mlserver).
    ///
    /// Requests: JSON with dataframe_split, dataframe_records, instances or inputs (and
    /// params); MLflow 1.x's `Content-Type: application/json; format=pandas-split` (or
    /// pandas-records), answered with the bare list of predictions; or text/csv. Inputs are
    /// checked against the model's signature first. Also /ping, /health, /version and
    /// /metrics (Prometheus).
    ///
    /// Examples:
    ///   ferroflow models serve -m runs:/<run_id>/model --port 5001
    ///   ferroflow models serve -m "models:/wine/Production" --env-manager local
    ///   ferroflow models serve -m mlruns/0/<run_id>/artifacts/model --enable-mlserver
    #[command(verbatim_doc_comment, disable_help_flag = true)]
    Serve(ModelServeArgs),
    /// Predict with a model on a JSON or CSV file (or standard input).
    ///
    /// A CSV is read in batches, so a file of any size runs in bounded memory; the
    /// predictions are written as {"predictions": [...]} (a bare list for MLflow 1.x's
    /// split-oriented JSON input).
    ///
    /// Example:
    ///   ferroflow models predict -m runs:/<run_id>/model -i predict.csv -t csv -o out.json
    #[command(verbatim_doc_comment)]
    Predict(ModelPredictArgs),
    /// Build a Docker image that serves the model on port 8080.
    ///
    /// Writes a build context (Dockerfile, the model, this ferroflow binary; the image
    /// installs the model's requirements.txt) and runs `docker build` on it. Without a
    /// Docker engine, it says so and where the context is.
    ///
    /// Example:
    ///   ferroflow models build-docker -m runs:/<run_id>/model -n wine && docker run -p 5001:8080 wine
    #[command(verbatim_doc_comment)]
    BuildDocker(BuildDockerArgs),
    /// Write the Docker build context that build-docker builds, without building it.
    GenerateDockerfile(GenerateDockerfileArgs),
}

#[derive(Debug, Args)]
pub struct BuildDockerArgs {
    /// The model (any form `models serve -m` takes).
    #[arg(short = 'm', long = "model-uri")]
    pub model_uri: String,
    /// The image name (and tag).
    #[arg(short, long, default_value = "mlflow-pyfunc-servable")]
    pub name: String,
    /// The image also serves the Open Inference Protocol V2 (/v2/models/mlflow-model/infer),
    /// as Seldon Core and KServe call it.
    #[arg(long)]
    pub enable_mlserver: bool,
}

#[derive(Debug, Args)]
pub struct GenerateDockerfileArgs {
    /// The model (any form `models serve -m` takes).
    #[arg(short = 'm', long = "model-uri")]
    pub model_uri: String,
    /// Where to write the context (a new or empty directory).
    #[arg(short = 'd', long, default_value = "mlflow-dockerfile")]
    pub output_directory: PathBuf,
    /// The image also serves the Open Inference Protocol V2 (/v2/models/mlflow-model/infer).
    #[arg(long)]
    pub enable_mlserver: bool,
}

/// Which model, and the Python environment it runs in.
#[derive(Debug, Args)]
pub struct ModelEnvArgs {
    /// The model: a local directory with an MLmodel file, runs:/<run_id>/<path>,
    /// models:/<name>/<version|stage|latest>, models:/<name>@<alias>, models:/<model_id>,
    /// mlflow-artifacts:/..., or MLflow 1.x's mlruns/<experiment>/<run>/artifacts/<path>.
    #[arg(short = 'm', long = "model-uri")]
    pub model_uri: String,

    /// How to build the model's Python environment: local (the Python on PATH, which must
    /// have mlflow and the model's packages), virtualenv or uv (from the model's
    /// python_env.yaml and requirements.txt, built once and cached), conda.
    #[arg(long, default_value = "virtualenv", value_parser = ["local", "virtualenv", "uv", "conda"])]
    pub env_manager: String,

    /// The same as --env-manager local (MLflow 1.x).
    #[arg(long)]
    pub no_conda: bool,

    /// Run an ONNX model through its python_function flavor (onnxruntime in Python
    /// workers) instead of natively in this process. ONNX models (the onnx flavor, or a
    /// model.onnx with no other Python loader) run natively by default; the environment
    /// options above apply to Python only.
    #[arg(long)]
    pub no_native: bool,
}

#[derive(Debug, Args)]
pub struct ModelServeArgs {
    /// Print help (`-h` is --host, as in `mlflow models serve`).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,

    #[command(flatten)]
    pub model: ModelEnvArgs,

    /// The network address to listen on.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    pub host: String,

    /// The port to listen on.
    #[arg(short, long, default_value_t = 5000)]
    pub port: u16,

    /// Python worker processes, each with the model loaded.
    #[arg(short, long, env = "MLFLOW_MODELS_WORKERS", default_value_t = 1)]
    pub workers: usize,

    /// Seconds a prediction may take before its worker is restarted (answer 503).
    #[arg(
        short,
        long,
        env = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT",
        default_value_t = 60
    )]
    pub timeout: u64,

    /// Also serve the Open Inference Protocol V2 (/v2/health/live, /v2/models/<name>/infer,
    /// ...), as Seldon MLServer and KServe speak it.
    #[arg(long)]
    pub enable_mlserver: bool,

    /// The model's name on the V2 routes (default "mlflow-model", as MLflow's MLServer
    /// mode names it).
    #[arg(long, env = "MLSERVER_MODEL_NAME")]
    pub model_name: Option<String>,

    /// The largest request body accepted, in bytes (413 beyond).
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// Most concurrent requests one worker predicts in one call.
    #[arg(long, default_value_t = 64)]
    pub max_batch: usize,

    #[command(flatten)]
    pub connections: ConnArgs,
}

/// How a server bounds its connections (Ferroflow's own; `mlflow server` has none).
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Seconds a client may take to send a request's head, and a kept-alive connection may
    /// stay idle, before the connection is closed.
    #[arg(long, env = env::FERROFLOW_HEADER_TIMEOUT, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,

    /// Seconds a request body may pause before the request fails.
    #[arg(long, env = env::FERROFLOW_BODY_TIMEOUT, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,

    /// Connections open at once; beyond them a new one is answered 503 and closed (also
    /// kept under the open-file limit, which is raised to its maximum at start).
    #[arg(long, env = env::FERROFLOW_MAX_CONNECTIONS, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
}

#[derive(Debug, Args)]
pub struct ModelPredictArgs {
    #[command(flatten)]
    pub model: ModelEnvArgs,

    /// The input file (default: standard input).
    #[arg(short, long)]
    pub input_path: Option<PathBuf>,

    /// Where to write the predictions (default: standard output).
    #[arg(short, long)]
    pub output_path: Option<PathBuf>,

    /// The input's format: json (any request format /invocations takes) or csv.
    #[arg(short = 't', long, default_value = "json", value_parser = ["json", "csv"])]
    pub content_type: String,

    /// Rows per batch when reading a CSV.
    #[arg(long, default_value_t = 10_000)]
    pub batch_rows: usize,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ServerArgs {
    /// Print help (`-h` is --host, as in `mlflow server`).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,

    /// The network address to listen on. Use 0.0.0.0 to listen on every interface.
    #[arg(short = 'h', long, env = env::MLFLOW_HOST, default_value = "127.0.0.1")]
    pub host: String,

    /// The port to listen on.
    #[arg(short, long, env = env::MLFLOW_PORT, default_value_t = 5000)]
    pub port: u16,

    /// Where experiment and run data is stored: a database URI such as sqlite:///mlflow.db
    /// (the default; relative to the working directory) or sqlite:////abs/path.db.
    #[arg(long, env = env::MLFLOW_BACKEND_STORE_URI)]
    pub backend_store_uri: Option<String>,

    /// Where new experiments put their artifacts: a local directory, s3://bucket/prefix,
    /// gs://, wasbs://, abfss://, or mlflow-artifacts:/. Defaults to mlflow-artifacts:/ (the
    /// proxy) when artifacts are served, otherwise to ./mlruns.
    #[arg(long, env = env::MLFLOW_DEFAULT_ARTIFACT_ROOT)]
    pub default_artifact_root: Option<String>,

    /// Proxy artifact uploads and downloads through this server (the default;
    /// MLFLOW_SERVE_ARTIFACTS=false turns it off).
    #[arg(long, overrides_with = "no_serve_artifacts")]
    pub serve_artifacts: bool,

    /// Do not serve artifacts; clients then write to the artifact root directly.
    #[arg(long)]
    pub no_serve_artifacts: bool,

    /// Where proxied (mlflow-artifacts:/) artifacts are stored: a local directory, or
    /// s3://bucket/prefix, gs://bucket/prefix, wasbs://container@account.blob.core.windows.net/prefix
    /// (credentials from MLflow's variables: AWS_*, MLFLOW_S3_ENDPOINT_URL,
    /// GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_CONNECTION_STRING, ...). Default:
    /// ./mlartifacts when that directory exists (an MLflow 3 server's), else ./mlruns, so a
    /// run's files land in mlruns/<experiment_id>/<run_id>/artifacts as in MLflow 1.x.
    #[arg(long, env = env::MLFLOW_ARTIFACTS_DESTINATION)]
    pub artifacts_destination: Option<String>,

    /// Accepted for compatibility with `mlflow server`; Ferroflow serves every request
    /// from one multi-threaded process.
    #[arg(short, long, env = env::MLFLOW_WORKERS)]
    pub workers: Option<u32>,

    /// Comma-separated Host header values to accept (DNS-rebinding protection). Patterns
    /// may use `*`; `*` alone accepts every host. Default: localhost and private networks.
    #[arg(long, env = env::MLFLOW_SERVER_ALLOWED_HOSTS, value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Comma-separated origins allowed to call the API from a browser, beyond localhost;
    /// `*` allows any.
    #[arg(long, env = env::MLFLOW_SERVER_CORS_ALLOWED_ORIGINS, value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// The X-Frame-Options header of every response (clickjacking protection): SAMEORIGIN
    /// lets only pages of this server frame the UI, DENY lets none, NONE sends no header
    /// (any origin may frame it). The UI's Content-Security-Policy `frame-ancestors`
    /// follows it.
    #[arg(long, env = env::MLFLOW_SERVER_X_FRAME_OPTIONS, default_value = "SAMEORIGIN")]
    pub x_frame_options: String,

    /// A path prefix for every route, e.g. /mlflow.
    #[arg(long, env = env::MLFLOW_STATIC_PREFIX)]
    pub static_prefix: Option<String>,

    /// Serve behind an app: `basic-auth` is MLflow's HTTP basic authentication with
    /// per-experiment and per-model permissions, configured by the INI file
    /// MLFLOW_AUTH_CONFIG_PATH names (default_permission, database_uri, admin_username,
    /// admin_password, auth_cache_ttl_seconds) and MLFLOW_AUTH_ADMIN_USERNAME/_PASSWORD.
    #[arg(long)]
    pub app_name: Option<String>,

    /// Accepted for compatibility with `mlflow server`; ignored.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub gunicorn_opts: Option<String>,
    /// Accepted for compatibility with `mlflow server`; ignored.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub uvicorn_opts: Option<String>,
    /// Accepted for compatibility with `mlflow server`; ignored.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub waitress_opts: Option<String>,
    /// Accepted for compatibility with `mlflow server`; ignored.
    #[arg(long, hide = true)]
    pub dev: bool,

    #[command(flatten)]
    pub connections: ConnArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum View {
    ActiveOnly,
    DeletedOnly,
    All,
}

#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// Create an experiment.
    Create {
        /// The experiment's name.
        #[arg(short = 'n', long)]
        experiment_name: String,
        /// Where its artifacts go (default: the store's artifact root + /<id>).
        #[arg(short = 'l', long)]
        artifact_location: Option<String>,
    },
    /// List experiments (the MLflow 1.x command; the same as `search`).
    List {
        /// Which experiments to show.
        #[arg(short, long, value_enum, default_value = "active-only")]
        view: View,
    },
    /// Search experiments, optionally with a filter such as "name LIKE 'wine%'".
    Search {
        /// Which experiments to show.
        #[arg(short, long, value_enum, default_value = "active-only")]
        view: View,
        /// A filter in MLflow's search syntax.
        #[arg(short, long, default_value = "")]
        filter: String,
        /// Order, e.g. "name ASC" (repeatable).
        #[arg(short, long)]
        order_by: Vec<String>,
    },
    /// Show one experiment as JSON.
    Get {
        /// The experiment's id.
        #[arg(short = 'x', long)]
        experiment_id: String,
    },
    /// Rename an experiment.
    Rename {
        #[arg(short = 'x', long)]
        experiment_id: String,
        /// The new name.
        #[arg(long)]
        new_name: String,
    },
    /// Mark an experiment and its runs deleted (`gc` removes them for good).
    Delete {
        #[arg(short = 'x', long)]
        experiment_id: String,
    },
    /// Restore a deleted experiment and its runs.
    Restore {
        #[arg(short = 'x', long)]
        experiment_id: String,
    },
    /// Write an experiment's runs as CSV: one row per run, params, metrics and tags as columns.
    Csv {
        #[arg(short = 'x', long)]
        experiment_id: String,
        /// The output file (default: standard output).
        #[arg(short, long)]
        filename: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List the runs of an experiment.
    List {
        #[arg(long)]
        experiment_id: String,
        /// Which runs to show.
        #[arg(short, long, value_enum, default_value = "active-only")]
        view: View,
    },
    /// Show a run as JSON: info, params, metrics, tags, inputs and outputs.
    Describe {
        /// The run's id.
        #[arg(long)]
        run_id: String,
    },
    /// Mark a run deleted (`gc` removes it for good).
    Delete {
        /// The run's id.
        #[arg(long)]
        run_id: String,
    },
    /// Restore a deleted run.
    Restore {
        /// The run's id.
        #[arg(long)]
        run_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// List the artifacts of a run (one directory level) as JSON.
    List {
        /// The run's id.
        #[arg(short, long)]
        run_id: String,
        /// A directory inside the run's artifacts.
        #[arg(short, long)]
        artifact_path: Option<String>,
    },
    /// Download a run's artifacts, a registered model's, or any artifact URI's, and print
    /// where they landed.
    Download {
        /// The run whose artifacts to download.
        #[arg(short, long, required_unless_present = "artifact_uri")]
        run_id: Option<String>,
        /// A file or directory inside the run's artifacts (default: all of them).
        #[arg(short, long)]
        artifact_path: Option<String>,
        /// A URI instead of a run: runs:/<run_id>/path, models:/<name>/<version>,
        /// models:/<name>/<stage>, models:/<name>/latest, models:/<name>@<alias>,
        /// models:/<model_id>, mlflow-artifacts:/..., or a path.
        #[arg(short = 'u', long, conflicts_with = "run_id")]
        artifact_uri: Option<String>,
        /// Where to put them (default: a new temporary directory).
        #[arg(short, long)]
        dst_path: Option<PathBuf>,
    },
    /// Upload one file to a run's artifacts.
    LogArtifact {
        /// The file to upload.
        #[arg(short, long)]
        local_file: PathBuf,
        /// The run's id.
        #[arg(short, long)]
        run_id: String,
        /// The directory inside the run's artifacts to put it in.
        #[arg(short, long)]
        artifact_path: Option<String>,
    },
    /// Upload a directory tree to a run's artifacts.
    LogArtifacts {
        /// The directory to upload, with everything under it.
        #[arg(short, long)]
        local_dir: PathBuf,
        /// The run's id.
        #[arg(short, long)]
        run_id: String,
        /// The directory inside the run's artifacts to put it in.
        #[arg(short, long)]
        artifact_path: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Bring a database to MLflow 3.17.2's schema: create it in an empty database, upgrade
    /// one made by an older MLflow (1.0 onwards) in place, or check one is already there.
    ///
    /// On SQLite and PostgreSQL the upgrade is one transaction: it completes or changes
    /// nothing. MySQL commits each schema change, so there an interrupted upgrade is
    /// finished by running this again. Take a backup first, as with `mlflow db upgrade`.
    Upgrade {
        /// The database URI, e.g. sqlite:///mlflow.db, postgresql://user:pw@host/db,
        /// mysql://user:pw@host/db.
        url: String,
    },
}

#[derive(Debug, Args)]
pub struct MigrateFilestoreArgs {
    /// The directory holding the file store: one with an `mlruns/` folder, or the
    /// `mlruns` folder itself.
    #[arg(long)]
    pub source: std::path::PathBuf,
    /// The new database, a SQLite URI such as sqlite:///mlflow.db. An existing file is
    /// replaced only after you confirm.
    #[arg(long)]
    pub target: String,
    /// Show progress while migrating (the default).
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,
    /// Do not show progress.
    #[arg(long, overrides_with = "progress")]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only remove what was deleted at least this long ago, e.g. 30d, 1d2h, 90m, 45s.
    #[arg(long)]
    pub older_than: Option<String>,
    /// The database to clean (default: MLFLOW_TRACKING_URI when it is a database, else
    /// sqlite:///mlflow.db).
    #[arg(long)]
    pub backend_store_uri: Option<String>,
    /// Where the server keeps proxied (mlflow-artifacts:/) artifacts (default as for
    /// `ferroflow server`: ./mlartifacts when it exists, else ./mlruns).
    #[arg(long, env = env::MLFLOW_ARTIFACTS_DESTINATION)]
    pub artifacts_destination: Option<String>,
    /// Only these deleted runs (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub run_ids: Vec<String>,
    /// Only these deleted experiments (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub experiment_ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The project: a directory, or a git URL (https://, ssh://, git@host:path, file://),
    /// optionally followed by #sub/dir for a project inside the repository.
    pub uri: String,

    /// The entry point: a name from MLproject, or a .py or .sh file of the project.
    #[arg(short, long, default_value = "main")]
    pub entry_point: String,

    /// The git commit, branch or tag to run (git projects only).
    #[arg(short, long)]
    pub version: Option<String>,

    /// A parameter, KEY=VALUE; repeat for more. Parameters the entry point does not declare
    /// are passed to its command as --KEY VALUE.
    #[arg(short = 'P', long = "param-list", value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// The experiment to run in, by name; created when it does not exist.
    #[arg(long, env = env::MLFLOW_EXPERIMENT_NAME, conflicts_with = "experiment_id")]
    pub experiment_name: Option<String>,

    /// The experiment to run in, by id (default: 0, the Default experiment).
    #[arg(long, env = env::MLFLOW_EXPERIMENT_ID)]
    pub experiment_id: Option<String>,

    /// The name of the run (default: a generated one).
    #[arg(long)]
    pub run_name: Option<String>,

    /// How to build the project's environment: local (use the Python on PATH), virtualenv
    /// or uv (from python_env.yaml, or a conda.yaml's Python and pip packages), conda.
    /// Default: virtualenv for a python_env project, conda for a conda_env one, local when
    /// the project declares no environment.
    #[arg(long, value_parser = ["local", "virtualenv", "uv", "conda"])]
    pub env_manager: Option<String>,

    /// The same as --env-manager local (MLflow 1.x).
    #[arg(long, conflicts_with = "env_manager")]
    pub no_conda: bool,

    /// Where the run executes; only `local` is supported.
    #[arg(short, long, default_value = "local")]
    pub backend: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
