//! ONNX models served natively: tract runs the graph in this process, with the
//! `ai.onnx.ml` operators skl2onnx emits that tract lacks added in [`ops`]. No Python is on
//! the request path.
//!
//! Inputs are fed as MLflow's `mlflow.onnx` pyfunc feeds onnxruntime: a frame becomes the
//! single input's `[rows, columns]` matrix, or one column per input when the model has
//! several; a tensor (`inputs`/`instances`) feeds the single input, or the inputs by name.
//! Floats are cast to the input's element type. The answer is a record per row for a frame
//! (`{"variable": 6.19}`), and the outputs by name for a tensor. A `ZipMap` at a graph
//! output (a classifier's class → probability maps) is taken off the graph, since tract's
//! tensors cannot hold maps, and applied when the answer is written.

mod convert;
mod ops;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, format_err};

use crate::input::Input;
use crate::predictor::{PredictError, PredictFuture, Predictor};

/// Above this many input values a model runs on a blocking thread, so a big batch does
/// not hold up the server's other requests.
const INLINE_VALUES: usize = 65_536;

/// A model input: its name, element type and shape (`None` for a dimension left open).
#[derive(Debug, Clone)]
pub(crate) struct Port {
    pub name: String,
    pub dt: DatumType,
    pub dims: Vec<Option<usize>>,
}

impl Port {
    pub(crate) fn shape_text(&self) -> String {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| d.map_or("-1".into(), |d| d.to_string()))
            .collect();
        format!("[{}]", dims.join(", "))
    }
}

/// A `ZipMap`'s class labels.
#[derive(Debug, Clone)]
pub(crate) enum Labels {
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

/// A graph output as the caller names it.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub name: String,
    pub zipmap: Option<Labels>,
}

struct Inner {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<Port>,
    outputs: Vec<Output>,
}

/// An ONNX model loaded into tract.
pub struct OnnxPredictor {
    inner: Arc<Inner>,
    file: PathBuf,
}

impl OnnxPredictor {
    /// Loads and optimizes the model in `file`. The error says why tract cannot run it.
    pub fn load(file: &Path) -> Result<OnnxPredictor, String> {
        let what = |e: String| format!("cannot load the ONNX model {}: {e}", file.display());
        // tract indexes into the graph while it parses; a malformed file must not take the
        // process down.
        let loaded = std::panic::catch_unwind(|| {
            let mut onnx = tract_onnx::onnx();
            ops::register(&mut onnx.op_register);
            let proto = onnx.proto_model_for_path(file)?;
            load(&onnx, proto, file.parent().and_then(Path::to_str))
        })
        .map_err(|p| what(format!("the runtime failed on it ({})", panic_text(&p))))?;
        let inner = loaded.map_err(|e| what(format!("{e:#}")))?;
        Ok(OnnxPredictor {
            inner: Arc::new(inner),
            file: file.to_path_buf(),
        })
    }

    /// The model's inputs, as `name: type shape`, for logs and errors.
    pub fn inputs_text(&self) -> String {
        self.inner
            .inputs
            .iter()
            .map(|p| format!("{}: {:?} {}", p.name, p.dt, p.shape_text()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// Builds the runnable model from its protobuf; `dir` is where external tensor data lives.
fn load(
    onnx: &tract_onnx::Onnx,
    mut proto: pb::ModelProto,
    dir: Option<&str>,
) -> TractResult<Inner> {
    let graph = proto
        .graph
        .as_mut()
        .ok_or_else(|| format_err!("the file has no graph"))?;
    let mut outputs: Vec<Output> = graph
        .output
        .iter()
        .map(|o| Output {
            name: o.name.clone(),
            zipmap: None,
        })
        .collect();
    strip_zipmaps(graph, &mut outputs)?;
    let initialized: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let declared: Vec<pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initialized.contains(i.name.as_str()))
        .cloned()
        .collect();

    let mut model = onnx.parse(&proto, dir)?.model;
    let mut inputs = Vec::with_capacity(declared.len());
    for (ix, info) in declared.iter().enumerate() {
        let port = port(info)?;
        let dims: TVec<TDim> = port
            .dims
            .iter()
            .enumerate()
            .map(|(axis, d)| match d {
                Some(n) => n.to_dim(),
                None => {
                    let name = dim_param(info, axis)
                        .unwrap_or_else(|| format!("{}_{axis}", sanitize(&info.name)));
                    model.symbols.sym(&name).to_dim()
                }
            })
            .collect();
        model.set_input_fact(ix, InferenceFact::dt_shape(port.dt, dims))?;
        inputs.push(port);
    }
    let plan = model.into_optimized()?.into_runnable()?;
    Ok(Inner {
        plan,
        inputs,
        outputs,
    })
}

/// Takes each `ZipMap` that makes a graph output off the graph: the output becomes the
/// probability matrix it reads, and `outputs` remembers the labels to zip it with.
fn strip_zipmaps(graph: &mut pb::GraphProto, outputs: &mut [Output]) -> TractResult<()> {
    let mut zips = HashMap::new();
    graph.node.retain(|n| {
        let at_output = n.op_type == "ZipMap"
            && n.input.len() == 1
            && n.output.len() == 1
            && outputs.iter().any(|o| o.name == n.output[0]);
        if at_output {
            zips.insert(n.output[0].clone(), n.clone());
        }
        !at_output
    });
    for (o, info) in outputs.iter_mut().zip(graph.output.iter_mut()) {
        let Some(node) = zips.get(&o.name) else {
            continue;
        };
        let ints: Option<Vec<i64>> = node.get_attr_opt_vec("classlabels_int64s")?;
        let strings: Option<Vec<String>> = node.get_attr_opt_vec("classlabels_strings")?;
        o.zipmap = Some(match (ints, strings) {
            (Some(i), _) if !i.is_empty() => Labels::Ints(i),
            (_, Some(s)) => Labels::Strings(s),
            _ => bail!("ZipMap {} has no class labels", node.name),
        });
        info.name = node.input[0].clone();
        info.r#type = None;
    }
    Ok(())
}

fn dim_param(info: &pb::ValueInfoProto, axis: usize) -> Option<String> {
    let pb::type_proto::Value::TensorType(t) = info.r#type.as_ref()?.value.as_ref()?;
    match t.shape.as_ref()?.dim.get(axis)?.value.as_ref()? {
        pb::tensor_shape_proto::dimension::Value::DimParam(p) if !p.is_empty() => Some(sanitize(p)),
        _ => None,
    }
}

/// A symbol name tract accepts, from an ONNX dimension or input name.
fn sanitize(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("d_{body}")
}

fn port(info: &pb::ValueInfoProto) -> TractResult<Port> {
    let Some(pb::type_proto::Value::TensorType(t)) =
        info.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        bail!("input '{}' is not a tensor", info.name);
    };
    use pb::tensor_proto::DataType as D;
    let dt = match D::try_from(t.elem_type) {
        Ok(D::Float) => f32::datum_type(),
        Ok(D::Double) => f64::datum_type(),
        Ok(D::Int64) => i64::datum_type(),
        Ok(D::Int32) => i32::datum_type(),
        Ok(D::Bool) => bool::datum_type(),
        Ok(D::String) => String::datum_type(),
        other => bail!(
            "input '{}' has element type {other:?}, which requests cannot carry",
            info.name
        ),
    };
    let dims = t
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) if n > 0 => {
                        Some(n as usize)
                    }
                    _ => None,
                })
                .collect()
        })
        .ok_or_else(|| format_err!("input '{}' has no shape", info.name))?;
    Ok(Port {
        name: info.name.clone(),
        dt,
        dims,
    })
}

impl Inner {
    fn run(&self, feeds: Vec<Tensor>, rows: Option<usize>) -> Result<Value, PredictError> {
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.plan
                .run(feeds.into_iter().map(|t| t.into_tvalue()).collect())
        }))
        .map_err(|p| PredictError::model(format!("the ONNX runtime failed: {}", panic_text(&p))))?
        .map_err(|e| {
            PredictError::bad_input(format!("the ONNX model cannot run on this input: {e:#}"))
        })?;
        convert::answer(&self.outputs, &results, rows)
    }
}

impl Predictor for OnnxPredictor {
    fn predict(&self, input: Input, _params: Option<Value>) -> PredictFuture<'_> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let (feeds, rows) = convert::feeds(&inner.inputs, input)?;
            if feeds.iter().map(Tensor::len).sum::<usize>() <= INLINE_VALUES {
                return inner.run(feeds, rows);
            }
            tokio::task::spawn_blocking(move || inner.run(feeds, rows))
                .await
                .map_err(|e| PredictError::model(format!("the prediction task failed: {e}")))?
        })
    }

    fn ready(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "onnx, native ({})",
            self.file.file_name().unwrap_or_default().to_string_lossy()
        )
    }
}

#[cfg(test)]
mod tests;
