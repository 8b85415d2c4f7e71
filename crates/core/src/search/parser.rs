//! Recursive-descent parser: filter strings to [`Expr`], order-by strings to [`OrderBy`].
//!
//! ```text
//! filter := or
//! or     := and ( OR and )*
//! and    := atom ( AND atom )*
//! atom   := '(' or ')' | key op value
//! op     := = | != | < | <= | > | >= | [NOT] LIKE | ILIKE | [NOT] IN | IS [NOT] NULL
//! value  := string | number | '(' string ( ',' string )* ')'
//! ```

use super::ast::{Cond, Expr, Op, OrderBy, RawKey, Value};
use super::lexer::{Tok, tokenize};
use crate::error::{Error, Result};

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 64;

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "end of filter".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::QuotedKey { entity, key }) => format!("'{entity}.`{key}`'"),
        Some(Tok::Backtick(w)) => format!("'`{w}`'"),
        Some(Tok::Str(s)) => format!("string '{s}'"),
        Some(Tok::Num(n)) => format!("number {n}"),
        Some(Tok::Op(o)) => format!("'{o}'"),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
        Some(Tok::Comma) => "','".into(),
    }
}

fn split_key(word: &str) -> RawKey {
    match word.split_once('.') {
        Some((entity, key)) => RawKey {
            entity: Some(entity.to_string()),
            key: key.to_string(),
        },
        None => RawKey {
            entity: None,
            key: word.to_string(),
        },
    }
}

impl Parser {
    fn new(input: &str) -> Result<Self> {
        Ok(Parser {
            toks: tokenize(input)?,
            pos: 0,
            depth: 0,
        })
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn err(&self, what: &str) -> Error {
        Error::invalid_param(format!(
            "Invalid search filter: expected {what}, found {}",
            describe(self.peek())
        ))
    }

    fn or(&mut self) -> Result<Expr<RawKey>> {
        let mut parts = vec![self.and()?];
        while is_kw(self.peek(), "OR") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr<RawKey>> {
        let mut parts = vec![self.atom()?];
        while is_kw(self.peek(), "AND") {
            self.pos += 1;
            // MLflow ignores a dangling `AND` at the end of a filter.
            if self.peek().is_none() {
                break;
            }
            parts.push(self.atom()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::And(parts)
        })
    }

    fn atom(&mut self) -> Result<Expr<RawKey>> {
        if self.peek() == Some(&Tok::LParen) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(Error::invalid_param(
                    "Invalid search filter: parentheses nested too deeply",
                ));
            }
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                self.pos -= 1;
                return Err(self.err("')'"));
            }
            self.depth -= 1;
            return Ok(e);
        }
        let key = self.key()?;
        let op = self.op()?;
        let value = match op {
            Op::IsNull | Op::IsNotNull => Value::None,
            Op::In | Op::NotIn => self.list()?,
            _ => self.scalar()?,
        };
        Ok(Expr::Cond(Cond { key, op, value }))
    }

    fn key(&mut self) -> Result<RawKey> {
        match self.peek().cloned() {
            Some(Tok::Word(w)) if !["AND", "OR"].iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                self.pos += 1;
                Ok(split_key(&w))
            }
            Some(Tok::QuotedKey { entity, key }) => {
                self.pos += 1;
                Ok(RawKey {
                    entity: Some(entity),
                    key,
                })
            }
            Some(Tok::Backtick(k)) => {
                self.pos += 1;
                Ok(RawKey {
                    entity: None,
                    key: k,
                })
            }
            _ => Err(self.err(
                "an identifier such as metrics.rmse, params.alpha, tags.x or attributes.status",
            )),
        }
    }

    fn op(&mut self) -> Result<Op> {
        let op = match self.peek() {
            Some(Tok::Op(o)) => match *o {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            t if is_kw(t, "LIKE") => Op::Like,
            t if is_kw(t, "ILIKE") => Op::ILike,
            t if is_kw(t, "IN") => Op::In,
            t if is_kw(t, "NOT") && is_kw(self.peek_at(1), "IN") => {
                self.pos += 1;
                Op::NotIn
            }
            t if is_kw(t, "IS") => {
                if is_kw(self.peek_at(1), "NULL") {
                    self.pos += 1;
                    Op::IsNull
                } else if is_kw(self.peek_at(1), "NOT") && is_kw(self.peek_at(2), "NULL") {
                    self.pos += 2;
                    Op::IsNotNull
                } else {
                    self.pos += 1;
                    return Err(self.err("NULL or NOT NULL after IS"));
                }
            }
            _ => return Err(self.err("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)")),
        };
        self.pos += 1;
        Ok(op)
    }

    fn scalar(&mut self) -> Result<Value> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Value::Str(s))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Value::Num(n))
            }
            _ => Err(self.err("a value (a quoted string or a number)")),
        }
    }

    fn list(&mut self) -> Result<Value> {
        if self.next() != Some(Tok::LParen) {
            self.pos -= 1;
            return Err(self.err("'(' to start a list of values"));
        }
        let mut items = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Str(s)) => items.push(s),
                Some(Tok::Num(n)) => items.push(n),
                _ => {
                    self.pos -= 1;
                    return Err(self.err("a quoted string in the list"));
                }
            }
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RParen) => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.err("',' or ')' in the list"));
                }
            }
        }
        Ok(Value::List(items))
    }
}

/// Parses a filter string. An empty or blank filter is `None` (match everything).
pub fn parse_filter(input: &str) -> Result<Option<Expr<RawKey>>> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    let mut p = Parser::new(input)?;
    let e = p.or()?;
    if p.peek().is_some() {
        return Err(p.err("AND, OR or the end of the filter"));
    }
    Ok(Some(e))
}

/// Parses one order-by clause: `key [ASC|DESC]`, refused with MLflow's messages.
pub fn parse_order_by(input: &str) -> Result<OrderBy<RawKey>> {
    let unparsable = || {
        Error::invalid_param(format!(
            "Invalid order_by clause '{input}'. Could not be parsed."
        ))
    };
    let mut p = Parser::new(input).map_err(|_| unparsable())?;
    let key = p.key().map_err(|_| unparsable())?;
    let direction = p.next();
    if p.peek().is_some() {
        return Err(unparsable());
    }
    let ascending = match direction {
        None => true,
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("ASC") => true,
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("DESC") => false,
        _ => {
            return Err(Error::invalid_param(format!(
                "Invalid ordering key in order_by clause '{input}'."
            )));
        }
    };
    Ok(OrderBy { key, ascending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(e: &str, key: &str) -> RawKey {
        RawKey {
            entity: Some(e.into()),
            key: key.into(),
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = parse_filter("metrics.a > 1 and params.b = 'x' OR tags.c != 'y'")
            .unwrap()
            .unwrap();
        let Expr::Or(parts) = e else {
            panic!("expected OR")
        };
        assert!(matches!(parts[0], Expr::And(_)));
        assert!(matches!(parts[1], Expr::Cond(_)));
    }

    #[test]
    fn parentheses_group() {
        let e = parse_filter("(metrics.a > 1 OR metrics.b < 2) AND params.c = 'x'")
            .unwrap()
            .unwrap();
        let Expr::And(parts) = e else {
            panic!("expected AND")
        };
        assert!(matches!(parts[0], Expr::Or(_)));
    }

    #[test]
    fn keys_and_values() {
        let e = parse_filter("tags.mlflow.runName = \"x\"")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            Expr::Cond(Cond {
                key: k("tags", "mlflow.runName"),
                op: Op::Eq,
                value: Value::Str("x".into())
            })
        );
        let e = parse_filter("attributes.run_id NOT IN ('a', 'b')")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            Expr::Cond(Cond {
                key: k("attributes", "run_id"),
                op: Op::NotIn,
                value: Value::List(vec!["a".into(), "b".into()])
            })
        );
        let e = parse_filter("tags.x is not null").unwrap().unwrap();
        assert!(matches!(
            e,
            Expr::Cond(Cond {
                op: Op::IsNotNull,
                ..
            })
        ));
        let e = parse_filter("status = 'RUNNING'").unwrap().unwrap();
        assert!(matches!(
            e,
            Expr::Cond(Cond {
                key: RawKey { entity: None, .. },
                ..
            })
        ));
    }

    #[test]
    fn errors_name_the_problem() {
        for bad in [
            "metrics.a >",
            "metrics.a 1",
            "(metrics.a > 1",
            "metrics.a > 1 AND AND",
            "metrics.a > 1 metrics.b < 2",
            "IN ('a')",
            "a IN 'x'",
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert!(
                e.message.starts_with("Invalid search filter") || e.message.contains("Invalid"),
                "{bad}: {}",
                e.message
            );
        }
        assert!(parse_filter("  ").unwrap().is_none());
        // A dangling AND at the very end is ignored, as MLflow does.
        assert!(matches!(
            parse_filter("metrics.a > 1 AND").unwrap(),
            Some(Expr::Cond(_))
        ));
        assert!(matches!(
            parse_filter("`metrics`.a > 1").unwrap(),
            Some(Expr::Cond(_))
        ));
    }

    #[test]
    fn order_by() {
        assert_eq!(
            parse_order_by("metrics.rmse DESC").unwrap(),
            OrderBy {
                key: k("metrics", "rmse"),
                ascending: false
            }
        );
        assert_eq!(
            parse_order_by("metrics.`a b`").unwrap(),
            OrderBy {
                key: k("metrics", "a b"),
                ascending: true
            }
        );
        assert!(parse_order_by("metrics.rmse sideways").is_err());
        assert!(parse_order_by("").is_err());
    }
}
