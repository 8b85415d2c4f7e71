//! YAML as MLflow writes it with PyYAML: read into JSON values (`to_json`), and written
//! back in PyYAML's block style with sorted keys (`dump`), so that Python reads every
//! value back with the type it had.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// The first document of `text` as JSON; `Err` names the line of a syntax error.
pub fn to_json(text: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        format!(
            "line {}, column {}: {}",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        )
    })?;
    Ok(docs.first().map(convert).unwrap_or(Value::Null))
}

fn convert(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(convert).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Real(r) => r.clone(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                m.insert(key, convert(v));
            }
            Value::Object(m)
        }
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

/// A mapping as PyYAML's `safe_dump(default_flow_style=False)` lays it out: one key per
/// line in sorted order, nested mappings indented by two, lists of scalars as `- item`.
pub fn dump(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_map(map, 0, &mut out);
    out
}

fn write_map(map: &Map<String, Value>, indent: usize, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        let v = &map[k.as_str()];
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(k));
        out.push(':');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_map(m, indent + 2, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                for item in a {
                    out.push_str(&" ".repeat(indent));
                    out.push_str("- ");
                    out.push_str(&inline(item));
                    out.push('\n');
                }
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => {
                let s = f.to_string();
                if s.contains(['.', 'e', 'E']) {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            _ => n.to_string(),
        },
        Value::String(s) => scalar(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        // Nested collections inside lists do not occur in MLflow's files; JSON is YAML.
        other => other.to_string(),
    }
}

/// Words PyYAML resolves to booleans or null when unquoted.
const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n"];

/// A string as a YAML scalar that reads back as that string: plain when unambiguous,
/// single-quoted when printable, double-quoted (JSON escapes) otherwise.
fn scalar(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@+-".contains(c))
        && !s.ends_with(':')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else if s.chars().all(|c| !c.is_control()) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dump_reads_back_the_same_values() {
        let v = json!({
            "experiment_id": "0",
            "name": "it's a \"run\"\nwith lines",
            "status": 3,
            "end_time": null,
            "tags": [],
            "aliases": {"champion": "1"},
            "list": ["a", "yes"],
            "artifact_uri": "file:///tmp/x y/0",
            "lifecycle_stage": "active",
            "value": 0.5,
            "empty": "",
            "unicode": "vinho tinto é bom",
        });
        let text = dump(v.as_object().unwrap());
        assert!(text.starts_with("aliases:\n  champion: '1'\n"), "{text}");
        assert!(text.contains("lifecycle_stage: active\n"), "{text}");
        assert_eq!(to_json(&text).unwrap(), v);
    }
}
