//! Tokens of the filter and order-by language.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare or dotted word (`status`, `metrics.rmse`, `tags.mlflow.runName`).
    Word(String),
    /// `entity.` followed by a backtick- or double-quoted key: `metrics.\`my metric\``.
    QuotedKey {
        entity: String,
        key: String,
    },
    /// A backtick-quoted identifier standing alone.
    Backtick(String),
    /// A string literal in single or double quotes.
    Str(String),
    /// A numeric literal, kept as written.
    Num(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-')
}

fn read_quoted(chars: &[char], mut i: usize, quote: char) -> Result<(String, usize)> {
    // `i` points just after the opening quote.
    let mut out = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && (chars[i + 1] == quote || chars[i + 1] == '\\') {
            out.push(chars[i + 1]);
            i += 2;
        } else if c == quote {
            if i + 1 < chars.len() && chars[i + 1] == quote {
                out.push(quote);
                i += 2;
            } else {
                return Ok((out, i + 1));
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    Err(Error::invalid_param(format!(
        "Unterminated quoted string starting with {quote}{out}"
    )))
}

pub fn tokenize(input: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = input.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                toks.push(Tok::LParen);
                i += 1
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1
            }
            '=' => {
                // `==` is accepted as a synonym of `=`.
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
                toks.push(Tok::Op("="));
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Op("!="));
                i += 2
            }
            '<' => {
                if chars.get(i + 1) == Some(&'=') {
                    toks.push(Tok::Op("<="));
                    i += 2
                } else if chars.get(i + 1) == Some(&'>') {
                    toks.push(Tok::Op("!="));
                    i += 2
                } else {
                    toks.push(Tok::Op("<"));
                    i += 1
                }
            }
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    toks.push(Tok::Op(">="));
                    i += 2
                } else {
                    toks.push(Tok::Op(">"));
                    i += 1
                }
            }
            '\'' | '"' => {
                let (s, next) = read_quoted(&chars, i + 1, c)?;
                toks.push(Tok::Str(s));
                i = next;
            }
            '`' => {
                let (s, next) = read_quoted(&chars, i + 1, '`')?;
                i = next;
                // A backquoted entity, `metrics`.m or `metrics`.`m x`, as MLflow reads it.
                if chars.get(i) == Some(&'.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|c| word_char(*c) || *c == '`' || *c == '"')
                {
                    i += 1;
                    if chars[i] == '`' || chars[i] == '"' {
                        let (key, next) = read_quoted(&chars, i + 1, chars[i])?;
                        toks.push(Tok::QuotedKey { entity: s, key });
                        i = next;
                    } else {
                        let start = i;
                        while i < chars.len() && word_char(chars[i]) {
                            i += 1;
                        }
                        let key: String = chars[start..i].iter().collect();
                        toks.push(Tok::Word(format!("{s}.{key}")));
                    }
                } else {
                    toks.push(Tok::Backtick(s));
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() {
                    let d = chars[i];
                    let exp_sign = (d == '-' || d == '+') && matches!(chars[i - 1], 'e' | 'E');
                    if d.is_ascii_digit() || d == '.' || d == 'e' || d == 'E' || exp_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                if i < chars.len() && word_char(chars[i]) {
                    let mut j = i;
                    while j < chars.len() && word_char(chars[j]) {
                        j += 1;
                    }
                    let bad: String = chars[start..j].iter().collect();
                    return Err(Error::invalid_param(format!(
                        "Invalid token '{bad}' in search filter"
                    )));
                }
                toks.push(Tok::Num(text));
            }
            c if word_char(c) => {
                let start = i;
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word.ends_with('.') && i < chars.len() && (chars[i] == '`' || chars[i] == '"') {
                    let (key, next) = read_quoted(&chars, i + 1, chars[i])?;
                    toks.push(Tok::QuotedKey {
                        entity: word.trim_end_matches('.').to_string(),
                        key,
                    });
                    i = next;
                } else {
                    toks.push(Tok::Word(word));
                }
            }
            other => {
                return Err(Error::invalid_param(format!(
                    "Invalid character '{other}' in search filter at position {i}"
                )));
            }
        }
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = tokenize("metrics.`my m` >= -1.5e3 AND params.a = 'it''s'").unwrap();
        assert_eq!(
            t,
            vec![
                Tok::QuotedKey {
                    entity: "metrics".into(),
                    key: "my m".into()
                },
                Tok::Op(">="),
                Tok::Num("-1.5e3".into()),
                Tok::Word("AND".into()),
                Tok::Word("params.a".into()),
                Tok::Op("="),
                Tok::Str("it's".into()),
            ]
        );
        assert!(tokenize("a = 'open").is_err());
        assert!(tokenize("metrics.a > 1AND").is_err());
        assert!(tokenize("a ; b").is_err());
    }
}
