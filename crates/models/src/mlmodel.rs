//! A model directory and its `MLmodel` file: flavors, signature, input example and the
//! environment files it was saved with.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::schema::Signature;
use ferroflow_core::yaml;

/// Why a directory is not a model this crate can load.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0} has no MLmodel file: it is not an MLflow model directory")]
    NoMlModel(PathBuf),
    #[error("{file}: {message}")]
    Invalid { file: PathBuf, message: String },
    #[error("cannot read {file}: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
}

/// A model on local disk.
#[derive(Debug, Clone)]
pub struct Model {
    pub dir: PathBuf,
    /// The MLmodel file, as JSON.
    pub mlmodel: Value,
    pub signature: Option<Signature>,
}

impl Model {
    pub fn load(dir: &Path) -> Result<Model, ModelError> {
        let file = dir.join("MLmodel");
        if !file.is_file() {
            return Err(ModelError::NoMlModel(dir.to_path_buf()));
        }
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io {
            file: file.clone(),
            source,
        })?;
        let invalid = |message: String| ModelError::Invalid {
            file: file.clone(),
            message,
        };
        let mlmodel = yaml::to_json(&text).map_err(invalid)?;
        if !mlmodel.is_object() {
            return Err(invalid("expected a mapping with 'flavors'".into()));
        }
        if !mlmodel["flavors"].is_object() {
            return Err(invalid("no 'flavors' mapping".into()));
        }
        let signature = match &mlmodel["signature"] {
            Value::Null => None,
            s => Some(Signature::from_mlmodel(s).map_err(|m| invalid(format!("signature: {m}")))?),
        };
        Ok(Model {
            dir: dir.to_path_buf(),
            mlmodel,
            signature,
        })
    }

    /// The flavor's settings, when the model has it.
    pub fn flavor(&self, name: &str) -> Option<&Value> {
        self.mlmodel["flavors"].get(name)
    }

    pub fn flavors(&self) -> Vec<String> {
        self.mlmodel["flavors"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The `python_function` flavor's environment file for `kind` (`virtualenv` →
    /// python_env.yaml, `conda` → conda.yaml), when it exists.
    pub fn env_file(&self, kind: &str) -> Option<PathBuf> {
        let name = self.flavor("python_function")?["env"][kind].as_str()?;
        Some(self.dir.join(name)).filter(|p| p.is_file())
    }

    /// The MLflow version that saved the model.
    pub fn mlflow_version(&self) -> Option<&str> {
        self.mlmodel["mlflow_version"].as_str()
    }

    /// The ONNX file to run natively: an `onnx` flavor's file, or a `model.onnx` in the
    /// directory — unless a `python_function` flavor loads the model with something other
    /// than `mlflow.onnx` (a custom model that merely holds an ONNX file).
    pub fn onnx_file(&self) -> Option<PathBuf> {
        let loader = self
            .flavor("python_function")
            .and_then(|f| f["loader_module"].as_str());
        if loader.is_some_and(|l| l != "mlflow.onnx") {
            return None;
        }
        if let Some(f) = self.flavor("onnx") {
            let name = f["data"].as_str().unwrap_or("model.onnx");
            return Some(self.dir.join(name)).filter(|p| p.is_file());
        }
        Some(self.dir.join("model.onnx")).filter(|p| p.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sklearn_model_and_refuses_what_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Model::load(dir.path()),
            Err(ModelError::NoMlModel(_))
        ));
        std::fs::write(
            dir.path().join("MLmodel"),
            "flavors:\n  python_function:\n    env:\n      virtualenv: python_env.yaml\n    loader_module: mlflow.sklearn\n  sklearn:\n    sklearn_version: 1.9.1\nmlflow_version: 3.17.2\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"x\", \"required\": true}]'\n  outputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float64\", \"shape\": [-1]}}]'\n  params: null\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("python_env.yaml"), "python: 3.11\n").unwrap();
        let m = Model::load(dir.path()).unwrap();
        assert_eq!(m.flavors(), ["python_function", "sklearn"]);
        assert_eq!(m.mlflow_version(), Some("3.17.2"));
        assert_eq!(
            m.env_file("virtualenv"),
            Some(dir.path().join("python_env.yaml"))
        );
        assert!(m.signature.is_some() && m.onnx_file().is_none());
        std::fs::write(dir.path().join("MLmodel"), "flavors: [\n").unwrap();
        assert!(
            Model::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("MLmodel: line")
        );
    }
}
