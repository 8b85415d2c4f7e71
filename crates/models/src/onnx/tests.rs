//! The added operators and the request/answer conversions on small graphs built here;
//! the skl2onnx-converted models are checked against onnxruntime in tests/e2e/test_onnx.py.

use serde_json::{Value, json};
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::{self, tensor_proto::DataType};

use super::*;
use crate::input::Frame;

impl Inner {
    /// What `OnnxPredictor::predict` does, without the runtime.
    fn predict(&self, input: Input) -> Result<Value, PredictError> {
        let (feeds, rows) = convert::feeds(&self.inputs, input)?;
        self.run(feeds, rows)
    }
}

fn attr_floats(name: &str, v: &[f32]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: v.to_vec(),
        ..Default::default()
    }
}

fn attr_ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn attr_int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn attr_str(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn attr_strs(name: &str, v: &[&str]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Strings as i32,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

fn value(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            value: Some(if *d < 0 {
                                dimension::Value::DimParam("N".into())
                            } else {
                                dimension::Value::DimValue(*d)
                            }),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(
    op: &str,
    domain: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        domain: domain.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

fn model(
    nodes: Vec<pb::NodeProto>,
    input: pb::ValueInfoProto,
    outputs: Vec<pb::ValueInfoProto>,
) -> Inner {
    let proto = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![
            pb::OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            },
            pb::OperatorSetIdProto {
                domain: "ai.onnx.ml".into(),
                version: 1,
            },
        ],
        graph: Some(pb::GraphProto {
            node: nodes,
            input: vec![input],
            output: outputs,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut onnx = tract_onnx::onnx();
    ops::register(&mut onnx.op_register);
    load(&onnx, proto, None).unwrap()
}

fn frame(columns: &[&str], rows: &[&[f64]]) -> Input {
    Input::Frame(Frame {
        columns: columns.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|v| json!(v)).collect())
            .collect(),
    })
}

fn close(got: &Value, want: &Value) {
    match (got, want) {
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{got} vs {want}");
            a.iter().zip(b).for_each(|(x, y)| close(x, y));
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
            a.values().zip(b.values()).for_each(|(x, y)| close(x, y));
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "{x} vs {y}");
        }
        _ => assert_eq!(got, want),
    }
}

#[test]
fn scaler_then_linear_regressor() {
    let m = model(
        vec![
            node(
                "Scaler",
                "ai.onnx.ml",
                &["X"],
                &["s"],
                vec![
                    attr_floats("offset", &[1.0, 10.0]),
                    attr_floats("scale", &[2.0, 0.5]),
                ],
            ),
            node(
                "LinearRegressor",
                "ai.onnx.ml",
                &["s"],
                &["y"],
                vec![
                    attr_floats("coefficients", &[1.0, 3.0]),
                    attr_floats("intercepts", &[0.25]),
                ],
            ),
        ],
        value("X", &[-1, 2]),
        vec![value("y", &[-1, 1])],
    );
    // (3-1)*2 + 3*(14-10)*0.5 + 0.25 = 10.25; (0-1)*2 + 3*(0-10)*0.5 + 0.25 = -16.75
    let got = m
        .predict(frame(&["a", "b"], &[&[3.0, 14.0], &[0.0, 0.0]]))
        .unwrap();
    close(&got, &json!([{"y": 10.25}, {"y": -16.75}]));
    let got = m.predict(Input::Tensor(json!([[3.0, 14.0]]))).unwrap();
    close(&got, &json!({"y": [[10.25]]}));
}

#[test]
fn tree_ensemble_regressor_averages_trees_and_follows_nan() {
    // Tree 0: x0 <= 0.5 ? 1.0 : 3.0, NaN goes to the true side.
    // Tree 1: x1 < 2.0 ? 10.0 : 20.0.
    let attrs = vec![
        attr_str("aggregate_function", "AVERAGE"),
        attr_int("n_targets", 1),
        attr_floats("base_values", &[0.5]),
        attr_ints("nodes_treeids", &[0, 0, 0, 1, 1, 1]),
        attr_ints("nodes_nodeids", &[0, 1, 2, 0, 1, 2]),
        attr_ints("nodes_featureids", &[0, 0, 0, 1, 0, 0]),
        attr_floats("nodes_values", &[0.5, 0.0, 0.0, 2.0, 0.0, 0.0]),
        attr_strs(
            "nodes_modes",
            &["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
        ),
        attr_ints("nodes_truenodeids", &[1, 0, 0, 1, 0, 0]),
        attr_ints("nodes_falsenodeids", &[2, 0, 0, 2, 0, 0]),
        attr_ints("nodes_missing_value_tracks_true", &[1, 0, 0, 0, 0, 0]),
        attr_ints("target_treeids", &[0, 0, 1, 1]),
        attr_ints("target_nodeids", &[1, 2, 1, 2]),
        attr_ints("target_ids", &[0, 0, 0, 0]),
        attr_floats("target_weights", &[1.0, 3.0, 10.0, 20.0]),
    ];
    let m = model(
        vec![node(
            "TreeEnsembleRegressor",
            "ai.onnx.ml",
            &["X"],
            &["y"],
            attrs,
        )],
        value("X", &[-1, 2]),
        vec![value("y", &[-1, 1])],
    );
    let got = m
        .predict(Input::Tensor(json!([[0.0, 1.0], [1.0, 5.0]])))
        .unwrap();
    close(&got, &json!({"y": [[6.0], [12.0]]}));
    // NaN cannot come through JSON; feed it as a frame-less tensor through the plan directly.
    let nan = tract_ndarray::arr2(&[[f32::NAN, 5.0f32]]).into_dyn();
    let out = m.plan.run(tvec![Tensor::from(nan).into_tvalue()]).unwrap();
    assert_eq!(
        out[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[11.0]
    );
}

/// Two trees over three classes: tree 0 splits on x0 <= 0.5, tree 1 on x1 < 2.0; each leaf
/// gives weights to some classes.
fn classifier_attrs(post: &str, labels: pb::AttributeProto) -> Vec<pb::AttributeProto> {
    vec![
        labels,
        attr_str("post_transform", post),
        attr_ints("nodes_treeids", &[0, 0, 0, 1, 1, 1]),
        attr_ints("nodes_nodeids", &[0, 1, 2, 0, 1, 2]),
        attr_ints("nodes_featureids", &[0, 0, 0, 1, 0, 0]),
        attr_floats("nodes_values", &[0.5, 0.0, 0.0, 2.0, 0.0, 0.0]),
        attr_strs(
            "nodes_modes",
            &["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
        ),
        attr_ints("nodes_truenodeids", &[1, 0, 0, 1, 0, 0]),
        attr_ints("nodes_falsenodeids", &[2, 0, 0, 2, 0, 0]),
        attr_ints("class_treeids", &[0, 0, 0, 1, 1]),
        attr_ints("class_nodeids", &[1, 1, 2, 1, 2]),
        attr_ints("class_ids", &[0, 1, 2, 0, 2]),
        attr_floats("class_weights", &[0.25, 0.25, 0.5, 0.5, 0.5]),
        attr_floats("base_values", &[0.0, 0.1, 0.0]),
    ]
}

#[test]
fn tree_ensemble_classifier_sums_class_weights_and_labels_the_best() {
    let m = model(
        vec![node(
            "TreeEnsembleClassifier",
            "ai.onnx.ml",
            &["X"],
            &["label", "scores"],
            classifier_attrs("NONE", attr_ints("classlabels_int64s", &[3, 5, 7])),
        )],
        value("X", &[-1, 2]),
        vec![value("label", &[-1]), value("scores", &[-1, 3])],
    );
    // Row 0: tree 0 left (0.25, 0.25, 0), tree 1 left (0.5, 0, 0) + base -> (0.75, 0.35, 0).
    // Row 1: tree 0 right (0, 0, 0.5), tree 1 right (0, 0, 0.5) + base -> (0, 0.1, 1.0).
    let got = m
        .predict(Input::Tensor(json!([[0.0, 1.0], [1.0, 5.0]])))
        .unwrap();
    close(
        &got,
        &json!({"label": [3, 7], "scores": [[0.75, 0.35, 0.0], [0.0, 0.1, 1.0]]}),
    );
    let soft = model(
        vec![node(
            "TreeEnsembleClassifier",
            "ai.onnx.ml",
            &["X"],
            &["label", "scores"],
            classifier_attrs(
                "SOFTMAX",
                attr_strs("classlabels_strings", &["bad", "ok", "good"]),
            ),
        )],
        value("X", &[-1, 2]),
        vec![value("label", &[-1]), value("scores", &[-1, 3])],
    );
    let got = soft.predict(Input::Tensor(json!([[1.0, 5.0]]))).unwrap();
    let e = [0f64.exp(), 0.1f64.exp(), 1f64.exp()];
    let sum: f64 = e.iter().sum();
    close(
        &got,
        &json!({"label": ["good"], "scores": [[e[0] / sum, e[1] / sum, e[2] / sum]]}),
    );
}

#[test]
fn zipmap_at_an_output_becomes_a_map_per_row() {
    let m = model(
        vec![
            node("Softmax", "", &["X"], &["p"], vec![attr_int("axis", 1)]),
            node(
                "ZipMap",
                "ai.onnx.ml",
                &["p"],
                &["probs"],
                vec![attr_ints("classlabels_int64s", &[3, 7])],
            ),
        ],
        value("X", &[-1, 2]),
        vec![pb::ValueInfoProto {
            name: "probs".into(),
            ..Default::default()
        }],
    );
    let got = m.predict(frame(&["a", "b"], &[&[0.0, 0.0]])).unwrap();
    close(&got, &json!([{"probs": {"3": 0.5, "7": 0.5}}]));
    let got = m
        .predict(Input::Tensor(json!([[0.0, 0.0], [0.0, 0.0]])))
        .unwrap();
    close(
        &got,
        &json!({"probs": [{"3": 0.5, "7": 0.5}, {"3": 0.5, "7": 0.5}]}),
    );
}

#[test]
fn requests_that_do_not_fit_the_inputs_are_400s() {
    let m = model(
        vec![node("Relu", "", &["X"], &["y"], vec![])],
        value("X", &[-1, 3]),
        vec![value("y", &[-1, 3])],
    );
    let err = |input| m.predict(input).unwrap_err();
    let e = err(frame(&["a", "b"], &[&[1.0, 2.0]]));
    assert_eq!(e.status, 400);
    assert!(
        e.message
            .contains("takes 3 values per row; the request has 2 columns"),
        "{}",
        e.message
    );
    let e = err(Input::Tensor(json!([[1, 2, 3], [1, 2]])));
    assert!(
        e.message
            .contains("ragged: X[1] should be a list of 3 items"),
        "{}",
        e.message
    );
    let e = err(Input::Tensor(json!([[[1, 2, 3]]])));
    assert!(
        e.message
            .contains("has shape [-1, 3]; the request's has shape [1, 1, 3]"),
        "{}",
        e.message
    );
    let e = err(Input::Tensor(json!([[1, true, 3]])));
    assert!(
        e.message.contains("X[0][1]: expected a number, got true"),
        "{}",
        e.message
    );
    let e = err(Input::Tensor(json!({"Z": [[1, 2, 3]]})));
    assert!(e.message.contains("no input 'Z'"), "{}", e.message);
    // Integers are fine for a float input, and the answer keeps the batch.
    close(
        &m.predict(Input::Tensor(json!([[1, -2, 3]]))).unwrap(),
        &json!({"y": [[1.0, 0.0, 3.0]]}),
    );
}

#[test]
fn a_file_that_is_not_onnx_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.onnx");
    std::fs::write(&file, b"\x08\x07not a model at all").unwrap();
    let e = OnnxPredictor::load(&file).err().unwrap();
    assert!(
        e.starts_with(&format!("cannot load the ONNX model {}", file.display())),
        "{e}"
    );
}
