//! The filter AST shared by every search and every store.

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
    pub const NUMERIC: &'static [Op] = &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
    pub const STRING: &'static [Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];
    pub const KEYED_STRING: &'static [Op] = &[
        Op::Eq,
        Op::Ne,
        Op::Like,
        Op::ILike,
        Op::IsNull,
        Op::IsNotNull,
    ];
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    /// A number as written (kept as text so integers stay exact).
    Num(String),
    List(Vec<String>),
    None,
}

impl Value {
    pub fn describe(&self) -> String {
        match self {
            Value::Str(s) => format!("'{s}'"),
            Value::Num(n) => n.clone(),
            Value::List(l) => format!(
                "({})",
                l.iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::None => "nothing".into(),
        }
    }
}

/// An identifier as written: `entity.key`, or a bare `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawKey {
    pub entity: Option<String>,
    pub key: String,
}

/// One comparison `key op value`, with the key already bound to a search domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond<K> {
    pub key: K,
    pub op: Op,
    pub value: Value,
}

/// A boolean combination of comparisons. MLflow only has `AND`; `OR` and parentheses
/// are Ferroflow's documented extension.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<K> {
    And(Vec<Expr<K>>),
    Or(Vec<Expr<K>>),
    Cond(Cond<K>),
}

impl<K> Expr<K> {
    /// Rebinds every key, failing on the first key the domain rejects.
    pub fn try_map<K2, E>(
        self,
        f: &mut impl FnMut(Cond<K>) -> Result<Cond<K2>, E>,
    ) -> Result<Expr<K2>, E> {
        Ok(match self {
            Expr::And(v) => Expr::And(
                v.into_iter()
                    .map(|e| e.try_map(f))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(v) => Expr::Or(
                v.into_iter()
                    .map(|e| e.try_map(f))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Cond(c) => Expr::Cond(f(c)?),
        })
    }

    /// Every comparison, depth first.
    pub fn conds(&self) -> Vec<&Cond<K>> {
        let mut out = Vec::new();
        self.walk(&mut |c| out.push(c));
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Cond<K>)) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.walk(f)),
            Expr::Cond(c) => f(c),
        }
    }

    /// Evaluates with a predicate for single comparisons.
    pub fn eval(&self, f: &mut impl FnMut(&Cond<K>) -> bool) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval(f)),
            Expr::Or(v) => v.iter().any(|e| e.eval(f)),
            Expr::Cond(c) => f(c),
        }
    }
}

/// One `order_by` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy<K> {
    pub key: K,
    pub ascending: bool,
}
