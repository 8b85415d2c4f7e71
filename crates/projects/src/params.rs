//! An entry point's parameters: the user's values checked against their declared types,
//! defaults filled in, and the shell command built from the template.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::spec::{EntryPoint, ParamType};

/// An entry point made ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Every parameter as the run logs it: declared ones in MLproject order (with defaults
    /// filled in), then the extra ones in the order given.
    pub logged: Vec<(String, String)>,
    /// The shell command to run in the project directory.
    pub command: String,
}

/// Checks `given` (from `-P key=value`) against `ep` and builds its command. Relative
/// `path` and `uri` values are made absolute against `cwd`, where the user typed them.
///
/// `fetched` holds the local copies of `path` parameters given as URIs (see
/// [`remote_paths`]); a URI without one is refused.
pub fn invoke(
    ep: &EntryPoint,
    given: &[(String, String)],
    cwd: &Path,
    fetched: &[(String, PathBuf)],
) -> Result<Invocation> {
    let missing: Vec<String> = ep
        .parameters
        .iter()
        .filter(|p| p.default.is_none() && !given.iter().any(|(k, _)| *k == p.name))
        .map(|p| format!("'{}'", p.name))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "entry point '{}' needs a value for {} (give it with -P {}=...)",
            ep.name,
            missing.join(", "),
            missing[0].trim_matches('\'')
        )));
    }
    let mut logged = Vec::new();
    let mut substitutions = Vec::new();
    for p in &ep.parameters {
        let raw = given
            .iter()
            .rev()
            .find(|(k, _)| *k == p.name)
            .map(|(_, v)| v.clone())
            .or_else(|| p.default.clone())
            .unwrap_or_default();
        let value = match fetched.iter().find(|(k, _)| *k == p.name) {
            Some((_, local)) if p.kind == ParamType::Path => local.display().to_string(),
            _ => typed_value(&p.name, &p.kind, &raw, cwd)?,
        };
        logged.push((p.name.clone(), raw));
        substitutions.push((p.name.as_str(), shell_quote(&value)));
    }
    let mut command = format_template(&ep.command, &substitutions)
        .map_err(|m| Error::Usage(format!("entry point '{}': {m}", ep.name)))?;
    for (k, v) in given {
        if ep.parameters.iter().any(|p| p.name == *k) || logged.iter().any(|(l, _)| l == k) {
            continue;
        }
        command.push_str(&format!(" --{} {}", shell_quote(k), shell_quote(v)));
        logged.push((k.clone(), v.clone()));
    }
    Ok(Invocation { logged, command })
}

/// The `path` parameters of `ep` whose value (given or default) is a URI to download,
/// as (name, URI), in declaration order.
pub fn remote_paths(ep: &EntryPoint, given: &[(String, String)]) -> Vec<(String, String)> {
    ep.parameters
        .iter()
        .filter(|p| p.kind == ParamType::Path)
        .filter_map(|p| {
            let v = given
                .iter()
                .rev()
                .find(|(k, _)| *k == p.name)
                .map(|(_, v)| v.clone())
                .or_else(|| p.default.clone())?;
            local_path(&v).is_none().then(|| (p.name.clone(), v))
        })
        .collect()
}

fn typed_value(name: &str, kind: &ParamType, raw: &str, cwd: &Path) -> Result<String> {
    let wrong = |what: &str| {
        Error::Usage(format!(
            "parameter '{name}' must be {what}, but got '{raw}'"
        ))
    };
    match kind {
        ParamType::Int => raw
            .trim()
            .parse::<i64>()
            .map(|_| raw.to_string())
            .map_err(|_| wrong("an integer (type int)")),
        ParamType::Float => raw
            .trim()
            .parse::<f64>()
            .map(|_| raw.to_string())
            .map_err(|_| wrong("a number (type float)")),
        ParamType::Path => match local_path(raw) {
            Some(p) => {
                let abs = cwd.join(p);
                if !abs.exists() {
                    return Err(Error::Usage(format!(
                        "parameter '{name}' (type path) is '{raw}', but there is no such file or directory ({})",
                        abs.display()
                    )));
                }
                Ok(abs.display().to_string())
            }
            None => Err(Error::Usage(format!(
                "parameter '{name}' (type path) is the URI '{raw}', which was not downloaded"
            ))),
        },
        ParamType::Uri => Ok(match local_path(raw) {
            Some(p) if !raw.is_empty() => cwd.join(p).display().to_string(),
            _ => raw.to_string(),
        }),
        ParamType::String | ParamType::Other(_) => Ok(raw.to_string()),
    }
}

/// The local path a value names: a plain path or a `file:` URI; `None` for other URIs.
fn local_path(v: &str) -> Option<&str> {
    if let Some(rest) = v.strip_prefix("file://") {
        return Some(rest);
    }
    if let Some(rest) = v.strip_prefix("file:") {
        return Some(rest);
    }
    match v.split_once(':') {
        // `c:` would be a Windows drive; a scheme has two letters or more.
        Some((scheme, _))
            if scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            None
        }
        _ => Some(v),
    }
}

/// Substitutes `{name}` in `template` as Python's `str.format` does (`{{` and `}}` stand
/// for braces); a placeholder that names no parameter is an error.
pub fn format_template(template: &str, values: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("the command has an unclosed '{{{name}'")),
                    }
                }
                let name = name.trim();
                match values.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        return Err(format!(
                            "the command uses {{{name}}}, which is not one of its parameters{}",
                            if values.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    " ({})",
                                    values
                                        .iter()
                                        .map(|(k, _)| *k)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        ));
                    }
                }
            }
            '}' => return Err("the command has a single '}' (write '}}' for a brace)".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Quotes `s` for a POSIX shell: unchanged when it is only safe characters, otherwise in
/// single quotes (Python's `shlex.quote`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r#"'"'"'"#))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Parameter;

    fn ep(params: Vec<Parameter>, command: &str) -> EntryPoint {
        EntryPoint {
            name: "main".into(),
            parameters: params,
            command: command.into(),
        }
    }

    fn param(name: &str, kind: ParamType, default: Option<&str>) -> Parameter {
        Parameter {
            name: name.into(),
            kind,
            default: default.map(String::from),
        }
    }

    fn given(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fills_defaults_quotes_values_and_appends_extras() {
        let e = ep(
            vec![
                param("alpha", ParamType::Float, Some("0.5")),
                param("name", ParamType::String, None),
            ],
            "python train.py --alpha {alpha} --name {name} {{literal}}",
        );
        let inv = invoke(
            &e,
            &given(&[("name", "a b; rm -rf /"), ("epsilon", "1")]),
            Path::new("/"),
            &[],
        )
        .unwrap();
        assert_eq!(
            inv.command,
            "python train.py --alpha 0.5 --name 'a b; rm -rf /' {literal} --epsilon 1"
        );
        assert_eq!(
            inv.logged,
            given(&[
                ("alpha", "0.5"),
                ("name", "a b; rm -rf /"),
                ("epsilon", "1")
            ])
        );
    }

    #[test]
    fn refuses_missing_and_ill_typed_values() {
        let e = ep(
            vec![param("epochs", ParamType::Int, None)],
            "python t.py {epochs}",
        );
        let missing = invoke(&e, &[], Path::new("/"), &[])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("needs a value for 'epochs'"), "{missing}");
        let typed = invoke(&e, &given(&[("epochs", "ten")]), Path::new("/"), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            typed,
            "parameter 'epochs' must be an integer (type int), but got 'ten'"
        );
        let f = ep(vec![param("lr", ParamType::Float, None)], "{lr}");
        assert!(invoke(&f, &given(&[("lr", "1e-3")]), Path::new("/"), &[]).is_ok());
        assert!(invoke(&f, &given(&[("lr", "fast")]), Path::new("/"), &[]).is_err());
    }

    #[test]
    fn paths_must_exist_and_become_absolute() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.csv"), "x").unwrap();
        let e = ep(
            vec![
                param("data", ParamType::Path, None),
                param("out", ParamType::Uri, Some("s3://b/k")),
            ],
            "{data} {out}",
        );
        let inv = invoke(&e, &given(&[("data", "data.csv")]), dir.path(), &[]).unwrap();
        assert_eq!(
            inv.command,
            format!("{}/data.csv s3://b/k", dir.path().display())
        );
        assert_eq!(inv.logged[0].1, "data.csv");
        let e2 = invoke(&e, &given(&[("data", "nope.csv")]), dir.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(e2.contains("no such file or directory"), "{e2}");
        let remote = given(&[("data", "runs:/abc/data.csv")]);
        assert_eq!(
            remote_paths(&e, &remote),
            given(&[("data", "runs:/abc/data.csv")])
        );
        let local = PathBuf::from("/tmp/param_0/data.csv");
        let inv = invoke(&e, &remote, dir.path(), &[("data".into(), local)]).unwrap();
        assert_eq!(inv.command, "/tmp/param_0/data.csv s3://b/k");
        assert_eq!(inv.logged[0].1, "runs:/abc/data.csv");
    }

    #[test]
    fn templates_follow_python_format() {
        assert_eq!(
            format_template("{a}{{b}}", &[("a", "1".into())]).unwrap(),
            "1{b}"
        );
        assert!(
            format_template("{c}", &[("a", "1".into())])
                .unwrap_err()
                .contains("{c}")
        );
        assert!(format_template("{a", &[]).is_err());
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(shell_quote(""), "''");
    }
}
