//! A Docker build context that serves a model on port 8080: the model, this ferroflow
//! binary, and for `python_function` models the model's Python environment.

use std::path::Path;

use crate::mlmodel::Model;

/// Where the model and the binary go inside the image.
pub const MODEL_DIR: &str = "/opt/ml/model";
pub const BINARY: &str = "/usr/local/bin/ferroflow";

/// Why a context could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DockerError(pub String);

/// The Python version of the image: the model's python_env.yaml's `python` (major.minor),
/// else 3.11.
fn python_version(model: &Model) -> String {
    let from_env = model
        .env_file("virtualenv")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("python:"))
                .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        });
    let v = from_env.unwrap_or_else(|| "3.11".into());
    let parts: Vec<&str> = v.split('.').take(2).collect();
    if parts.len() == 2
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
    {
        parts.join(".")
    } else {
        "3.11".into()
    }
}

/// What the image's server answers beyond `/invocations`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageOptions {
    /// Also the Open Inference Protocol V2 (`--enable-mlserver`), as Seldon and KServe
    /// call it: `/v2/models/mlflow-model/infer`, the name MLflow's MLServer image gives
    /// (`MLSERVER_MODEL_NAME` at `docker run` renames it).
    pub enable_mlserver: bool,
}

/// The Dockerfile for `model`, whose directory is copied to `model/` in the context;
/// `native`: it is an ONNX model ferroflow runs without Python ([`serves_natively`]).
pub fn dockerfile(model: &Model, native: bool, opts: ImageOptions) -> String {
    let v2 = if opts.enable_mlserver {
        ", \"--enable-mlserver\""
    } else {
        ""
    };
    if native {
        // Served natively: no Python in the image.
        return format!(
            "# Serves an ONNX model natively with ferroflow on port 8080: docker run -p 5001:8080 <image>\n\
             # A Debian 12 (bookworm) base: the ferroflow binary copied in needs its glibc (2.36).\n\
             FROM debian:bookworm-slim\n\
             COPY model {MODEL_DIR}\n\
             COPY ferroflow {BINARY}\n\
             RUN chmod 0755 {BINARY}\n\
             EXPOSE 8080\n\
             ENTRYPOINT [\"{BINARY}\", \"models\", \"serve\", \"-m\", \"{MODEL_DIR}\", \"--host\", \"0.0.0.0\", \"--port\", \"8080\"{v2}]\n"
        );
    }
    let python = python_version(model);
    // An ONNX model tract cannot run goes through Python in the image too.
    let no_native = if model.onnx_file().is_some() {
        ", \"--no-native\""
    } else {
        ""
    };
    let has_requirements = model.dir.join("requirements.txt").is_file();
    let install = if has_requirements {
        "RUN pip install --no-cache-dir -r /opt/ml/model/requirements.txt\n".to_string()
    } else {
        "RUN pip install --no-cache-dir mlflow\n".to_string()
    };
    format!(
        "# Serves an MLflow model with ferroflow on port 8080: docker run -p 5001:8080 <image>\n\
         # A Debian 12 (bookworm) base: the ferroflow binary copied in needs its glibc (2.36).\n\
         FROM python:{python}-slim-bookworm\n\
         ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1\n\
         COPY model {MODEL_DIR}\n\
         {install}\
         COPY ferroflow {BINARY}\n\
         RUN chmod 0755 {BINARY}\n\
         EXPOSE 8080\n\
         ENTRYPOINT [\"{BINARY}\", \"models\", \"serve\", \"-m\", \"{MODEL_DIR}\", \"--host\", \"0.0.0.0\", \"--port\", \"8080\", \"--env-manager\", \"local\"{no_native}{v2}]\n"
    )
}

/// Whether the image can run the model without Python: an ONNX model that loads natively
/// here (one that does not gets the Python image, where its python_function flavor runs).
fn serves_natively(model: &Model) -> bool {
    model
        .onnx_file()
        .is_some_and(|f| crate::onnx::OnnxPredictor::load(&f).is_ok())
}

/// Writes the build context for `model` into `dir` (which must be empty or absent):
/// `Dockerfile`, `model/`, and `ferroflow` (a copy of `binary`).
pub fn write_context(
    model: &Model,
    binary: &Path,
    dir: &Path,
    opts: ImageOptions,
) -> Result<(), DockerError> {
    let native = serves_natively(model);
    if model.flavor("python_function").is_none() && !native {
        return Err(DockerError(format!(
            "the model's flavors ({}) have neither a python_function flavor nor an ONNX file ferroflow can run, which the image serves",
            model.flavors().join(", ")
        )));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(DockerError(format!(
            "{} exists and is not empty; choose a new directory",
            dir.display()
        )));
    }
    let io = |what: &str, e: std::io::Error| DockerError(format!("cannot {what}: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| io(&format!("create {}", dir.display()), e))?;
    copy_dir(&model.dir, &dir.join("model")).map_err(|e| io("copy the model", e))?;
    std::fs::copy(binary, dir.join("ferroflow"))
        .map_err(|e| io(&format!("copy {}", binary.display()), e))?;
    std::fs::write(dir.join("Dockerfile"), dockerfile(model, native, opts))
        .map_err(|e| io("write the Dockerfile", e))?;
    std::fs::write(
        dir.join(".dockerignore"),
        "*\n!Dockerfile\n!model\n!ferroflow\n",
    )
    .map_err(|e| io("write .dockerignore", e))?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_context_that_serves_on_8080() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(
            src.path().join("MLmodel"),
            "flavors:\n  python_function:\n    env:\n      virtualenv: python_env.yaml\n",
        )
        .unwrap();
        std::fs::write(src.path().join("python_env.yaml"), "python: 3.10.4\n").unwrap();
        std::fs::write(src.path().join("requirements.txt"), "mlflow==3.17.2\n").unwrap();
        let model = Model::load(src.path()).unwrap();
        let bin = src.path().join("fake-binary");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        let out = tempfile::tempdir().unwrap();
        let ctx = out.path().join("ctx");
        write_context(&model, &bin, &ctx, ImageOptions::default()).unwrap();
        let df = std::fs::read_to_string(ctx.join("Dockerfile")).unwrap();
        assert!(df.contains("FROM python:3.10-slim"));
        assert!(df.contains("pip install --no-cache-dir -r /opt/ml/model/requirements.txt"));
        assert!(df.contains("\"--port\", \"8080\"") && df.contains("EXPOSE 8080"));
        assert!(ctx.join("model/MLmodel").is_file() && ctx.join("ferroflow").is_file());
        assert!(!df.contains("--enable-mlserver"));
        let v2 = dockerfile(
            &model,
            false,
            ImageOptions {
                enable_mlserver: true,
            },
        );
        assert!(
            v2.contains("\"--env-manager\", \"local\", \"--enable-mlserver\"]"),
            "{v2}"
        );
        assert!(
            write_context(&model, &bin, &ctx, ImageOptions::default())
                .unwrap_err()
                .0
                .contains("is not empty")
        );
    }

    #[test]
    fn an_onnx_file_tract_cannot_run_gets_the_python_image() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(
            src.path().join("MLmodel"),
            "flavors:\n  onnx:\n    data: model.onnx\n  python_function:\n    loader_module: mlflow.onnx\n",
        )
        .unwrap();
        std::fs::write(src.path().join("model.onnx"), b"\x08\x07not onnx").unwrap();
        let model = Model::load(src.path()).unwrap();
        let df = dockerfile(&model, serves_natively(&model), ImageOptions::default());
        assert!(df.contains("FROM python:3.11-slim"), "{df}");
        assert!(df.contains("\"local\", \"--no-native\"]"), "{df}");
    }
}
