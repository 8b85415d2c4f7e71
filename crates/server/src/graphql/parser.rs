//! A GraphQL document parser: operations (query, mutation), variables, fields with
//! aliases and arguments, fragments (spreads, inline, definitions); directives are read and
//! ignored. Enough of the GraphQL language for what MLflow's UI and clients send.

use std::collections::HashMap;

/// A literal or variable in a query.
#[derive(Debug, Clone, PartialEq)]
pub enum GValue {
    Var(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<GValue>),
    Object(Vec<(String, GValue)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub args: Vec<(String, GValue)>,
    pub selection: Vec<Selection>,
}

impl Field {
    /// The key of this field in the answer.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Field(Field),
    Spread(String),
    Inline {
        on: Option<String>,
        selection: Vec<Selection>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
    Subscription,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: OpKind,
    pub name: Option<String>,
    /// Variable names and their defaults.
    pub variables: Vec<(String, Option<GValue>)>,
    pub selection: Vec<Selection>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    pub on: String,
    pub selection: Vec<Selection>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub operations: Vec<Operation>,
    pub fragments: HashMap<String, Fragment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
}

/// Nesting deeper than this is refused while parsing (the depth limit proper is checked
/// after, as MLflow checks it); it keeps a hostile query from exhausting the stack.
const MAX_NESTING: usize = 64;

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\u{feff}' | ' ' | '\t' | '\n' | '\r' | ',' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
            }
            '!' | '$' | '&' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' => {
                out.push(Tok::Punct(c));
                i += 1;
            }
            '.' => {
                if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
                    out.push(Tok::Spread);
                    i += 3;
                } else {
                    return Err(format!("Syntax Error: Unexpected character: '.' at {i}."));
                }
            }
            '"' => {
                if chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"') {
                    // A block string: raw up to the closing """, \""" escapes the quotes.
                    let mut s = String::new();
                    i += 3;
                    loop {
                        if i >= chars.len() {
                            return Err("Syntax Error: Unterminated string.".into());
                        }
                        if chars[i] == '"'
                            && chars.get(i + 1) == Some(&'"')
                            && chars.get(i + 2) == Some(&'"')
                        {
                            i += 3;
                            break;
                        }
                        if chars[i] == '\\'
                            && chars.get(i + 1) == Some(&'"')
                            && chars.get(i + 2) == Some(&'"')
                            && chars.get(i + 3) == Some(&'"')
                        {
                            s.push_str("\"\"\"");
                            i += 4;
                            continue;
                        }
                        s.push(chars[i]);
                        i += 1;
                    }
                    out.push(Tok::Str(s.trim().to_string()));
                    continue;
                }
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') | Some('\r') => {
                            return Err("Syntax Error: Unterminated string.".into());
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = chars.get(i + 1).copied().unwrap_or(' ');
                            i += 2;
                            s.push(match e {
                                '"' => '"',
                                '\\' => '\\',
                                '/' => '/',
                                'b' => '\u{8}',
                                'f' => '\u{c}',
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                'u' => {
                                    let hex: String = chars.iter().skip(i).take(4).collect();
                                    i += 4;
                                    u32::from_str_radix(&hex, 16)
                                        .ok()
                                        .and_then(char::from_u32)
                                        .ok_or_else(|| format!("Syntax Error: Invalid Unicode escape sequence: '\\u{hex}'."))?
                                }
                                other => return Err(format!("Syntax Error: Invalid character escape sequence: '\\{other}'.")),
                            });
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                let mut float = false;
                while i < chars.len() {
                    let d = chars[i];
                    if d.is_ascii_digit() {
                        i += 1;
                    } else if d == '.' || d == 'e' || d == 'E' {
                        float = true;
                        i += 1;
                        if matches!(chars.get(i), Some('+') | Some('-')) {
                            i += 1;
                        }
                    } else {
                        break;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                out.push(if float {
                    Tok::Float(
                        text.parse()
                            .map_err(|_| format!("Syntax Error: Invalid number '{text}'."))?,
                    )
                } else {
                    Tok::Int(
                        text.parse()
                            .map_err(|_| format!("Syntax Error: Invalid number '{text}'."))?,
                    )
                });
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push(Tok::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("Syntax Error: Unexpected character: '{other}'.")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn unexpected(&self) -> String {
        match self.peek() {
            None => "Syntax Error: Unexpected <EOF>.".into(),
            Some(Tok::Punct(c)) => format!("Syntax Error: Unexpected '{c}'."),
            Some(Tok::Spread) => "Syntax Error: Unexpected '...'.".into(),
            Some(Tok::Name(n)) => format!("Syntax Error: Unexpected Name '{n}'."),
            Some(Tok::Int(n)) => format!("Syntax Error: Unexpected Int '{n}'."),
            Some(Tok::Float(n)) => format!("Syntax Error: Unexpected Float '{n}'."),
            Some(Tok::Str(s)) => format!("Syntax Error: Unexpected String \"{s}\"."),
        }
    }
    fn is(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.is(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "{} Expected '{c}'.",
                self.unexpected().trim_end_matches('.')
            ))
        }
    }
    fn name(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Name(n)) => {
                let n = n.clone();
                self.pos += 1;
                Ok(n)
            }
            _ => Err(format!(
                "{} Expected Name.",
                self.unexpected().trim_end_matches('.')
            )),
        }
    }
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!(
                "Query exceeds maximum depth of {}",
                super::MAX_DEPTH
            ));
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Document, String> {
        let mut doc = Document::default();
        if self.peek().is_none() {
            return Err("Syntax Error: Unexpected <EOF>.".into());
        }
        while self.peek().is_some() {
            match self.peek() {
                Some(Tok::Punct('{')) => doc.operations.push(Operation {
                    kind: OpKind::Query,
                    name: None,
                    variables: vec![],
                    selection: self.selection_set()?,
                }),
                Some(Tok::Name(n)) if n == "query" || n == "mutation" || n == "subscription" => {
                    let kind = match n.as_str() {
                        "query" => OpKind::Query,
                        "mutation" => OpKind::Mutation,
                        _ => OpKind::Subscription,
                    };
                    self.pos += 1;
                    let name = match self.peek() {
                        Some(Tok::Name(_)) => Some(self.name()?),
                        _ => None,
                    };
                    let variables = if self.is('(') {
                        self.variable_defs()?
                    } else {
                        vec![]
                    };
                    self.directives()?;
                    doc.operations.push(Operation {
                        kind,
                        name,
                        variables,
                        selection: self.selection_set()?,
                    });
                }
                Some(Tok::Name(n)) if n == "fragment" => {
                    self.pos += 1;
                    let name = self.name()?;
                    match self.next() {
                        Some(Tok::Name(on)) if on == "on" => {}
                        _ => return Err("Syntax Error: Expected \"on\".".into()),
                    }
                    let on = self.name()?;
                    self.directives()?;
                    let selection = self.selection_set()?;
                    doc.fragments.insert(name, Fragment { on, selection });
                }
                _ => return Err(self.unexpected()),
            }
        }
        Ok(doc)
    }

    fn variable_defs(&mut self) -> Result<Vec<(String, Option<GValue>)>, String> {
        self.expect('(')?;
        let mut out = Vec::new();
        while !self.is(')') {
            self.expect('$')?;
            let name = self.name()?;
            self.expect(':')?;
            self.type_ref()?;
            let default = if self.is('=') {
                self.pos += 1;
                Some(self.value(true)?)
            } else {
                None
            };
            self.directives()?;
            out.push((name, default));
        }
        self.expect(')')?;
        Ok(out)
    }

    fn type_ref(&mut self) -> Result<(), String> {
        self.enter()?;
        if self.is('[') {
            self.pos += 1;
            self.type_ref()?;
            self.expect(']')?;
        } else {
            self.name()?;
        }
        if self.is('!') {
            self.pos += 1;
        }
        self.depth -= 1;
        Ok(())
    }

    fn directives(&mut self) -> Result<(), String> {
        while self.is('@') {
            self.pos += 1;
            self.name()?;
            if self.is('(') {
                self.arguments()?;
            }
        }
        Ok(())
    }

    fn selection_set(&mut self) -> Result<Vec<Selection>, String> {
        self.enter()?;
        self.expect('{')?;
        let mut out = Vec::new();
        while !self.is('}') {
            if self.peek().is_none() {
                return Err("Syntax Error: Expected Name, found <EOF>.".into());
            }
            if self.peek() == Some(&Tok::Spread) {
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Name(n)) if n == "on" => {
                        self.pos += 1;
                        let on = Some(self.name()?);
                        self.directives()?;
                        out.push(Selection::Inline {
                            on,
                            selection: self.selection_set()?,
                        });
                    }
                    Some(Tok::Name(_)) => {
                        let name = self.name()?;
                        self.directives()?;
                        out.push(Selection::Spread(name));
                    }
                    _ => {
                        self.directives()?;
                        out.push(Selection::Inline {
                            on: None,
                            selection: self.selection_set()?,
                        });
                    }
                }
                continue;
            }
            let first = self.name()?;
            let (alias, name) = if self.is(':') {
                self.pos += 1;
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let args = if self.is('(') {
                self.arguments()?
            } else {
                vec![]
            };
            self.directives()?;
            let selection = if self.is('{') {
                self.selection_set()?
            } else {
                vec![]
            };
            out.push(Selection::Field(Field {
                alias,
                name,
                args,
                selection,
            }));
        }
        self.expect('}')?;
        self.depth -= 1;
        Ok(out)
    }

    fn arguments(&mut self) -> Result<Vec<(String, GValue)>, String> {
        self.expect('(')?;
        let mut out = Vec::new();
        while !self.is(')') {
            let name = self.name()?;
            self.expect(':')?;
            out.push((name, self.value(false)?));
        }
        self.expect(')')?;
        Ok(out)
    }

    fn value(&mut self, constant: bool) -> Result<GValue, String> {
        self.enter()?;
        let v = match self.next() {
            Some(Tok::Punct('$')) if !constant => GValue::Var(self.name()?),
            Some(Tok::Int(n)) => GValue::Int(n),
            Some(Tok::Float(f)) => GValue::Float(f),
            Some(Tok::Str(s)) => GValue::Str(s),
            Some(Tok::Name(n)) => match n.as_str() {
                "true" => GValue::Bool(true),
                "false" => GValue::Bool(false),
                "null" => GValue::Null,
                _ => GValue::Enum(n),
            },
            Some(Tok::Punct('[')) => {
                let mut items = Vec::new();
                while !self.is(']') {
                    if self.peek().is_none() {
                        return Err("Syntax Error: Unexpected <EOF>.".into());
                    }
                    items.push(self.value(constant)?);
                }
                self.pos += 1;
                GValue::List(items)
            }
            Some(Tok::Punct('{')) => {
                let mut fields = Vec::new();
                while !self.is('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    fields.push((k, self.value(constant)?));
                }
                self.pos += 1;
                GValue::Object(fields)
            }
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        self.depth -= 1;
        Ok(v)
    }
}

/// Parses a GraphQL document; errors read as graphql-core's `Syntax Error: ...`.
pub fn parse(src: &str) -> Result<Document, String> {
    let toks = lex(src)?;
    Parser {
        toks,
        pos: 0,
        depth: 0,
    }
    .document()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_fields_arguments_and_fragments() {
        let doc = parse(
            r#"query q($id: String!, $n: Int = 3) @component(name: "Test") {
                 a: mlflowGetRun(input: {runId: $id, list: ["x", 1, 2.5, true, null, ACTIVE_ONLY]}) {
                   run { info { status } ...F ... on MlflowRun { data { metrics { key } } } }
                 }
               }
               # a comment
               fragment F on MlflowRun { outputs { modelOutputs { step } } }
               mutation m { test(inputString: """block "x" """) { output } }"#,
        )
        .unwrap();
        assert_eq!(doc.operations.len(), 2);
        let q = &doc.operations[0];
        assert_eq!((q.kind, q.name.as_deref()), (OpKind::Query, Some("q")));
        assert_eq!(q.variables[1], ("n".into(), Some(GValue::Int(3))));
        let Selection::Field(f) = &q.selection[0] else {
            panic!()
        };
        assert_eq!((f.key(), f.name.as_str()), ("a", "mlflowGetRun"));
        let GValue::Object(input) = &f.args[0].1 else {
            panic!()
        };
        assert_eq!(input[0], ("runId".into(), GValue::Var("id".into())));
        assert!(doc.fragments.contains_key("F"));
        let Selection::Field(t) = &doc.operations[1].selection[0] else {
            panic!()
        };
        assert_eq!(t.args[0].1, GValue::Str("block \"x\"".into()));
    }

    #[test]
    fn bad_documents_are_syntax_errors() {
        for bad in [
            "",
            "{",
            "query { a(b: ) }",
            "{ a: }",
            "{ \"x }",
            "fragment F { a }",
            "{ a } }",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with("Syntax Error"), "{bad}: {e}");
        }
        let deep = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
        assert!(parse(&deep).unwrap_err().contains("maximum depth"));
    }
}
