//! `ferroflow models serve | predict`: a model found from its URI, its Python environment
//! built (or reused), and the workers of `ferroflow-models` started on it.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ferroflow_core::ids::stable_hash;
use ferroflow_models::docker;
use ferroflow_models::enforce::enforce;
use ferroflow_models::input::{self, Frame, Input};
use ferroflow_models::mlmodel::Model;
use ferroflow_models::onnx::OnnxPredictor;
use ferroflow_models::pyfunc::{PyfuncOptions, PyfuncPool};
use ferroflow_models::server::{ServeOptions, router};
use ferroflow_models::{PredictError, Predictor};
use ferroflow_projects::env::{self as penv, EnvManager};
use ferroflow_projects::spec::EnvSpec;

use super::artifacts;
use crate::args::{BuildDockerArgs, ModelEnvArgs, ModelPredictArgs, ModelServeArgs, ModelsCommand};
use crate::printer::Printer;
use crate::tracking;

pub async fn run(cmd: ModelsCommand, p: Printer) -> Result<u8> {
    match cmd {
        ModelsCommand::Serve(a) => serve(a, p).await.map(|()| 0),
        ModelsCommand::Predict(a) => predict(a, p).await.map(|()| 0),
        ModelsCommand::GenerateDockerfile(a) => {
            let opts = docker::ImageOptions {
                enable_mlserver: a.enable_mlserver,
            };
            let dir = context(&a.model_uri, &a.output_directory, opts, &p).await?;
            p.note(format!(
                "Wrote the build context to {}: docker build -t <image> {0}",
                dir.display()
            ));
            Ok(0)
        }
        ModelsCommand::BuildDocker(a) => build_docker(a, p).await.map(|()| 0),
    }
}

/// Writes the Docker build context of the model at `uri` into `dir`.
async fn context(
    uri: &str,
    dir: &Path,
    opts: docker::ImageOptions,
    p: &Printer,
) -> Result<PathBuf> {
    let model = Model::load(&local_model(uri, p).await?)?;
    let binary = std::env::current_exe()
        .context("cannot find the ferroflow binary to copy into the image")?;
    docker::write_context(&model, &binary, dir, opts)?;
    Ok(dir.to_path_buf())
}

async fn build_docker(a: BuildDockerArgs, p: Printer) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ferroflow-docker-")
        .tempdir()?
        .keep();
    let opts = docker::ImageOptions {
        enable_mlserver: a.enable_mlserver,
    };
    context(&a.model_uri, &dir, opts, &p).await?;
    let engine = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(std::process::Stdio::null())
        .output();
    let why = match engine {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("docker info failed")
                .to_string(),
        ),
        Err(e) => Some(format!("the docker command is not available ({e})")),
    };
    if let Some(why) = why {
        bail!(
            "no Docker engine answers here: {why}\nThe build context is ready in {0}; build it where Docker runs:\n  docker build -t {1} {0}",
            dir.display(),
            a.name
        );
    }
    p.note(format!(
        "Building the image {} from {}",
        a.name,
        dir.display()
    ));
    let status = std::process::Command::new("docker")
        .arg("build")
        .arg("-t")
        .arg(&a.name)
        .arg(&dir)
        .status()?;
    if !status.success() {
        bail!(
            "docker build failed ({status}); the context is in {}",
            dir.display()
        );
    }
    p.note(format!("Built {0}: docker run -p 5001:8080 {0}", a.name));
    Ok(())
}

/// MLflow 1.x's path of a run's artifact in its file store, `mlruns/<exp>/<run>/artifacts/<path>`,
/// as the `runs:/` URI that names the same thing in any store.
fn legacy_run_path(uri: &str) -> Option<String> {
    let parts: Vec<&str> = uri
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let at = parts.iter().position(|p| *p == "mlruns")?;
    match &parts[at + 1..] {
        [_exp, run, "artifacts", rest @ ..] if !rest.is_empty() => {
            Some(format!("runs:/{run}/{}", rest.join("/")))
        }
        _ => None,
    }
}

/// The model directory on local disk: a local directory as is, anything else downloaded
/// once into the cache (keyed by the artifact URI it resolves to, so `models:/m/Production`
/// follows the stage while `runs:/` and versions are fetched once).
async fn local_model(uri: &str, p: &Printer) -> Result<PathBuf> {
    let local = uri.strip_prefix("file://").unwrap_or(uri);
    let path = Path::new(local);
    if path.is_dir() && path.join("MLmodel").is_file() {
        return Ok(path.to_path_buf());
    }
    let remote = if uri.contains(":/") && !uri.starts_with("file:") {
        uri.to_string()
    } else if let Some(runs) =
        legacy_run_path(local).filter(|_| !path.exists() || !path.join("MLmodel").is_file())
    {
        runs
    } else if path.is_dir() {
        bail!(
            "{} has no MLmodel file: it is not an MLflow model directory",
            path.display()
        );
    } else {
        bail!(
            "{uri}: no such model directory (give a directory with an MLmodel file, or a runs:/ or models:/ URI)"
        );
    };
    let t = tracking::open(&tracking::client_uri().await).await?;
    let resolved = t.artifact_uri(&remote).await?;
    if remote != uri {
        // Seed 002's `mlruns/<experiment>/<run>/artifacts/model`: say what it became.
        let model_id = resolved
            .split('/')
            .find(|seg| ferroflow_core::model_uri::is_logged_model_id(seg));
        p.note(match model_id {
            Some(id) => format!(
                "{uri} is not a directory here: MLflow 3 keeps the run's model as logged model {id}; serving it ({resolved})"
            ),
            None => format!("{uri} is an MLflow 1.x file-store path; loading {remote} ({resolved})"),
        });
    }
    let dir = crate::env::cache_dir()
        .join("models")
        .join(stable_hash(resolved.as_bytes()));
    let done = dir.join(".ferroflow-complete");
    if done.is_file() {
        return Ok(dir.join("model"));
    }
    let staging = dir.with_extension(format!("part-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    p.note(format!("Downloading {remote}"));
    let landed = artifacts::download_uri(&t, &resolved, &staging, p).await?;
    if landed != staging.join("model") {
        std::fs::rename(&landed, staging.join("model"))
            .with_context(|| format!("cannot move {} into place", landed.display()))?;
    }
    std::fs::write(staging.join(".ferroflow-complete"), resolved.as_bytes())?;
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::rename(&staging, &dir).is_err() && !done.is_file() {
        bail!("cannot move the downloaded model into {}", dir.display());
    }
    let _ = std::fs::remove_dir_all(&staging);
    let model = dir.join("model");
    if !model.join("MLmodel").is_file() {
        bail!("{uri} ({resolved}) has no MLmodel file: it is not an MLflow model");
    }
    Ok(model)
}

/// The interpreter the workers run, and their extra environment.
fn python_for(
    model: &Model,
    a: &ModelEnvArgs,
    p: &Printer,
) -> Result<(PathBuf, Vec<(String, String)>)> {
    let manager = if a.no_conda {
        EnvManager::Local
    } else {
        EnvManager::parse(&a.env_manager)?
    };
    if manager == EnvManager::Local {
        let python = penv::which("python")
            .or_else(|| penv::which("python3"))
            .ok_or_else(|| anyhow!("no python on PATH for --env-manager local"))?;
        return Ok((python, Vec::new()));
    }
    let spec = match manager {
        EnvManager::Conda => EnvSpec::Conda(
            model
                .env_file("conda")
                .ok_or_else(|| anyhow!("the model has no conda.yaml for --env-manager conda"))?,
        ),
        _ => match (model.env_file("virtualenv"), model.env_file("conda")) {
            (Some(py), _) => EnvSpec::Python(py),
            (None, Some(conda)) => EnvSpec::Conda(conda),
            (None, None) => bail!(
                "the model has no python_env.yaml or conda.yaml to build a {} environment from; use --env-manager local",
                manager.as_str()
            ),
        },
    };
    let say = |m: &str| p.note(m);
    let prepared = penv::prepare(manager, &spec, &model.dir, &crate::env::cache_dir(), &say)?;
    let bin = prepared
        .bin_dir
        .ok_or_else(|| anyhow!("the environment has no bin directory"))?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let joined =
        std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path)))?;
    let mut env = vec![("PATH".to_string(), joined.to_string_lossy().into_owned())];
    if let Some(root) = prepared.root {
        env.push(("VIRTUAL_ENV".into(), root.display().to_string()));
    }
    Ok((bin.join("python"), env))
}

/// Loads the model at `uri` and starts its predictor.
async fn start(
    a: &ModelEnvArgs,
    workers: usize,
    timeout: Duration,
    max_batch: usize,
    p: &Printer,
) -> Result<(Model, Arc<dyn Predictor>)> {
    let dir = local_model(&a.model_uri, p).await?;
    let model = Model::load(&dir)?;
    if let Some(file) = model.onnx_file().filter(|_| !a.no_native) {
        let started = std::time::Instant::now();
        let onnx = OnnxPredictor::load(&file).map_err(|e| {
            let hint = if model.flavor("python_function").is_some() {
                "; --no-native serves it with onnxruntime in Python instead"
            } else {
                ""
            };
            anyhow!("{e}{hint}")
        })?;
        p.note(format!(
            "Loaded the ONNX model natively in {} ms (inputs: {})",
            started.elapsed().as_millis(),
            onnx.inputs_text()
        ));
        return Ok((model, Arc::new(onnx)));
    }
    if model.flavor("python_function").is_none() {
        bail!(
            "the model's flavors ({}) have no python_function flavor, which serving needs",
            model.flavors().join(", ")
        );
    }
    let (python, env) = python_for(&model, a, p)?;
    p.note(format!("Loading the model with {}", python.display()));
    let pool = PyfuncPool::start(PyfuncOptions {
        python,
        model_dir: dir.clone(),
        workers,
        timeout,
        load_timeout: Duration::from_secs(600),
        max_batch,
        env,
    })
    .await
    .map_err(|e| anyhow!(e))?;
    Ok((model, Arc::new(pool)))
}

async fn serve(a: ModelServeArgs, p: Printer) -> Result<()> {
    let (model, predictor) = start(
        &a.model,
        a.workers,
        Duration::from_secs(a.timeout),
        a.max_batch,
        &p,
    )
    .await?;
    let model_name = a
        .model_name
        .clone()
        .unwrap_or_else(|| "mlflow-model".into());
    let app = router(
        predictor.clone(),
        ServeOptions {
            model_name: model_name.clone(),
            signature: model.signature.clone(),
            version: ferroflow_core::MLFLOW_COMPAT_VERSION.to_string(),
            max_request_bytes: a.max_request_bytes,
            enable_v2: a.enable_mlserver,
        },
    );
    let (listener, addr) = super::listen(&a.host, a.port).await?;
    p.note(format!(
        "Serving {} ({}) on http://{addr}/invocations{}",
        a.model.model_uri,
        predictor.describe(),
        if a.enable_mlserver {
            format!(" and the V2 protocol as model '{model_name}'")
        } else {
            String::new()
        }
    ));
    ferroflow_server::listen::serve(
        listener,
        app,
        super::connection_limits(&a.connections),
        super::shutdown_signal(),
    )
    .await
    .context("the scoring server stopped with an error")?;
    Ok(())
}

async fn predict(a: ModelPredictArgs, p: Printer) -> Result<()> {
    let (model, predictor) = start(&a.model, 1, Duration::from_secs(24 * 3600), 1, &p).await?;
    let mut out: Box<dyn Write> = match &a.output_path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let (reader, size): (Box<dyn Read>, u64) = match &a.input_path {
        Some(path) => {
            let f = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(f), size)
        }
        None => (Box::new(std::io::stdin()), 0),
    };
    let score = |input: Input, params| {
        let predictor = predictor.clone();
        let sig = model.signature.clone();
        async move {
            let input = match &sig {
                Some(s) => enforce(input, &s.inputs).map_err(PredictError::bad_input)?,
                None => input,
            };
            predictor.predict(input, params).await
        }
    };
    if a.content_type == "json" {
        let mut body = Vec::new();
        BufReader::new(reader).read_to_end(&mut body)?;
        let req = input::decode(Some("application/json"), &body).map_err(|e| anyhow!(e.message))?;
        let predictions = score(req.input, req.params)
            .await
            .map_err(|e| anyhow!(e.message))?;
        let v = if req.legacy {
            predictions
        } else {
            serde_json::json!({"predictions": predictions})
        };
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    // CSV: batches of rows, the predictions streamed out as they come.
    let bar = p.progress(size, "predicting");
    let counted = ProgressReader {
        inner: reader,
        bar: bar.clone(),
    };
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::new(counted));
    let columns: Vec<String> = csv
        .headers()
        .context("cannot read the CSV header")?
        .iter()
        .map(String::from)
        .collect();
    if columns.is_empty() {
        bail!("the CSV is empty: it needs a header row of column names");
    }
    let mut first = true;
    let mut records = csv.records();
    let mut line = 1usize;
    loop {
        let mut frame = Frame {
            columns: columns.clone(),
            rows: Vec::with_capacity(a.batch_rows),
        };
        for rec in records.by_ref().take(a.batch_rows.max(1)) {
            line += 1;
            let rec = rec.with_context(|| format!("CSV line {line}"))?;
            frame.rows.push(rec.iter().map(input::csv_value).collect());
        }
        if frame.rows.is_empty() {
            break;
        }
        let n = frame.rows.len();
        let predictions = score(Input::Frame(frame), None)
            .await
            .map_err(|e| anyhow!("rows {}-{line}: {}", line + 1 - n, e.message))?;
        let items = match predictions {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            // The opening is written once the first batch succeeded.
            out.write_all(if first { b"{\"predictions\": [" } else { b", " })?;
            first = false;
            serde_json::to_writer(&mut out, &item)?;
        }
    }
    if first {
        out.write_all(b"{\"predictions\": [")?;
    }
    writeln!(out, "]}}")?;
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}

/// Counts the bytes read into a progress bar.
struct ProgressReader {
    inner: Box<dyn Read>,
    bar: indicatif::ProgressBar,
}

impl Read for ProgressReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_paths_become_runs_uris() {
        assert_eq!(
            legacy_run_path("mlruns/0/abc/artifacts/model/"),
            Some("runs:/abc/model".into())
        );
        assert_eq!(
            legacy_run_path("./mlruns/1/abc/artifacts/a/b"),
            Some("runs:/abc/a/b".into())
        );
        assert_eq!(legacy_run_path("/x/mlruns/1/abc/artifacts"), None);
        assert_eq!(legacy_run_path("models/m"), None);
    }
}
