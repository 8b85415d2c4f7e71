//! A model's signature: its inputs as named columns or as tensors, its outputs, its params.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub inputs: Schema,
    pub outputs: Option<Schema>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    Columns(Vec<ColSpec>),
    Tensors(Vec<TensorSpec>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColSpec {
    pub name: Option<String>,
    pub ty: ColType,
    pub required: bool,
}

/// MLflow's column types; `Other` covers arrays, objects and maps, which pass unchecked.
#[derive(Debug, Clone, PartialEq)]
pub enum ColType {
    Boolean,
    Integer,
    Long,
    Float,
    Double,
    String,
    Binary,
    Datetime,
    Other(String),
}

impl ColType {
    fn parse(v: &Value) -> ColType {
        match v.as_str() {
            Some("boolean") => ColType::Boolean,
            Some("integer") => ColType::Integer,
            Some("long") => ColType::Long,
            Some("float") => ColType::Float,
            Some("double") => ColType::Double,
            Some("string") => ColType::String,
            Some("binary") => ColType::Binary,
            Some("datetime") => ColType::Datetime,
            Some(other) => ColType::Other(other.to_string()),
            None => ColType::Other(v.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ColType::Boolean => "boolean",
            ColType::Integer => "integer",
            ColType::Long => "long",
            ColType::Float => "float",
            ColType::Double => "double",
            ColType::String => "string",
            ColType::Binary => "binary",
            ColType::Datetime => "datetime",
            ColType::Other(s) => s,
        }
    }

    /// The V2 protocol's datatype for the column.
    pub fn v2_datatype(&self) -> &'static str {
        match self {
            ColType::Boolean => "BOOL",
            ColType::Integer => "INT32",
            ColType::Long => "INT64",
            ColType::Float => "FP32",
            ColType::Double => "FP64",
            _ => "BYTES",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: Option<String>,
    /// numpy's name: float32, float64, int64, ...
    pub dtype: String,
    /// -1 for any size.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// The V2 protocol's datatype for the dtype.
    pub fn v2_datatype(&self) -> &'static str {
        match self.dtype.as_str() {
            "float16" => "FP16",
            "float32" => "FP32",
            "float64" => "FP64",
            "int8" => "INT8",
            "int16" => "INT16",
            "int32" => "INT32",
            "int64" => "INT64",
            "uint8" => "UINT8",
            "uint16" => "UINT16",
            "uint32" => "UINT32",
            "uint64" => "UINT64",
            "bool" => "BOOL",
            _ => "BYTES",
        }
    }
}

impl Signature {
    /// Reads the `signature` of an MLmodel file, whose `inputs` and `outputs` are JSON
    /// texts.
    pub fn from_mlmodel(v: &Value) -> Result<Signature, String> {
        let inputs = match &v["inputs"] {
            Value::Null => return Err("no 'inputs'".into()),
            i => Schema::parse(i)?,
        };
        let outputs = match &v["outputs"] {
            Value::Null => None,
            o => Some(Schema::parse(o)?),
        };
        Ok(Signature { inputs, outputs })
    }
}

impl Schema {
    fn parse(v: &Value) -> Result<Schema, String> {
        let parsed;
        let list = match v {
            Value::String(s) => {
                parsed = serde_json::from_str::<Value>(s).map_err(|e| format!("not JSON: {e}"))?;
                &parsed
            }
            other => other,
        };
        let items = list
            .as_array()
            .ok_or("expected a list of column or tensor specs")?;
        let is_tensor = |i: &Value| i["type"].as_str() == Some("tensor");
        if !items.is_empty() && items.iter().all(is_tensor) {
            let specs = items
                .iter()
                .map(|i| {
                    let t = &i["tensor-spec"];
                    Ok(TensorSpec {
                        name: i["name"].as_str().map(String::from),
                        dtype: t["dtype"]
                            .as_str()
                            .ok_or("a tensor spec without dtype")?
                            .to_string(),
                        shape: t["shape"]
                            .as_array()
                            .ok_or("a tensor spec without shape")?
                            .iter()
                            .map(|d| d.as_i64().unwrap_or(-1))
                            .collect(),
                    })
                })
                .collect::<Result<_, String>>()?;
            return Ok(Schema::Tensors(specs));
        }
        if items.iter().any(is_tensor) {
            return Err("a signature mixes columns and tensors".into());
        }
        Ok(Schema::Columns(
            items
                .iter()
                .map(|i| ColSpec {
                    name: i["name"].as_str().map(String::from),
                    ty: ColType::parse(&i["type"]),
                    required: i["required"].as_bool().unwrap_or(true),
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_column_and_tensor_signatures() {
        let s = Signature::from_mlmodel(&json!({
            "inputs": "[{\"type\": \"double\", \"name\": \"pH\", \"required\": true}, {\"type\": \"string\", \"name\": \"c\", \"required\": false}]",
            "outputs": "[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float64\", \"shape\": [-1]}}]",
        }))
        .unwrap();
        assert_eq!(
            s.inputs,
            Schema::Columns(vec![
                ColSpec {
                    name: Some("pH".into()),
                    ty: ColType::Double,
                    required: true
                },
                ColSpec {
                    name: Some("c".into()),
                    ty: ColType::String,
                    required: false
                },
            ])
        );
        assert_eq!(
            s.outputs,
            Some(Schema::Tensors(vec![TensorSpec {
                name: None,
                dtype: "float64".into(),
                shape: vec![-1]
            }]))
        );
        assert!(Signature::from_mlmodel(&json!({"inputs": "{"})).is_err());
    }
}
