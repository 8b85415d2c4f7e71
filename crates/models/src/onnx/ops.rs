//! `ai.onnx.ml` operators that scikit-learn models converted by skl2onnx use and tract does
//! not ship, or ships too slowly to serve: `Scaler`, `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier` (one forest walk for both), registered through tract's public op
//! register. (`ZipMap` produces a sequence of maps, which tract's tensors cannot hold: it is
//! applied when the answer is written, see `super::ZipMap`.)

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("Scaler", scaler);
    reg.insert("TreeEnsembleRegressor", tree_ensemble_regressor);
    // tract's own classifier walks its trees through ndarray views at about 10 ms a row;
    // ours shares the regressor's forest. Forms ours does not take (the two-class layout
    // with one score column) still go to tract's.
    if let Some(fallback) = reg.0.get("TreeEnsembleClassifier").copied() {
        TRACT_CLASSIFIER.get_or_init(|| fallback);
    }
    reg.insert("TreeEnsembleClassifier", tree_ensemble_classifier);
}

type OpBuilder =
    fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

static TRACT_CLASSIFIER: std::sync::OnceLock<OpBuilder> = std::sync::OnceLock::new();

// ---- Scaler: y = (x - offset) * scale, per feature or broadcast -------------------------

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Scaler {
    offset: Arc<Tensor>,
    scale: Arc<Tensor>,
}

fn scaler(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let offset: Vec<f32> = node
        .get_attr_opt_vec("offset")?
        .unwrap_or_else(|| vec![0.0]);
    let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_else(|| vec![1.0]);
    node.expect(
        !offset.is_empty() && !scale.is_empty(),
        "offset and scale are not empty",
    )?;
    // Shaped [1, C] (or [1, 1]) so they broadcast over the batch axis.
    let row = |v: &[f32]| -> TractResult<Arc<Tensor>> {
        Ok(tensor1(v).into_shape(&[1, v.len()])?.into_arc_tensor())
    };
    Ok((
        expand(Scaler {
            offset: row(&offset)?,
            scale: row(&scale)?,
        }),
        vec![],
    ))
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut x = inputs[0];
        if model.outlet_fact(x)?.datum_type != f32::datum_type() {
            x = model.wire_node(
                format!("{prefix}.to_f32"),
                tract_core::ops::cast::cast(f32::datum_type()),
                &[x],
            )?[0];
        }
        let rank = model.outlet_fact(x)?.rank();
        let konst = |model: &mut TypedModel, name: &str, t: &Arc<Tensor>| {
            let t = if rank == 2 {
                t.clone()
            } else {
                let flat = t.clone().into_tensor();
                let n = flat.len();
                flat.into_shape(&[n])?
                    .broadcast_into_rank(rank)?
                    .into_arc_tensor()
            };
            model.add_const(format!("{prefix}.{name}"), t)
        };
        let offset = konst(model, "offset", &self.offset)?;
        let scale = konst(model, "scale", &self.scale)?;
        let centered = model.wire_node(
            format!("{prefix}.sub"),
            tract_core::ops::math::sub(),
            &[x, offset],
        )?[0];
        model.wire_node(
            format!("{prefix}.mul"),
            tract_core::ops::math::mul(),
            &[centered, scale],
        )
    }
}

// ---- TreeEnsembleRegressor ----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

impl Mode {
    fn parse(s: &str) -> TractResult<Mode> {
        Ok(match s {
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            "LEAF" => Mode::Leaf,
            other => bail!("unknown node mode {other}"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// A node, with its children resolved to indices into `Forest::nodes`.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    mode: Mode,
    feature: usize,
    value: f32,
    yes: usize,
    no: usize,
    nan_goes_yes: bool,
    /// For a leaf: its (target, weight) pairs, a range of `Forest::weights`.
    weights: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
struct Forest {
    nodes: Vec<Node>,
    roots: Vec<usize>,
    weights: Vec<(usize, f32)>,
    targets: usize,
    base: Vec<f32>,
    aggregate: Aggregate,
    max_feature: usize,
}

// tract compares ops with `Eq`; a forest's thresholds are never NaN, so `==` is reflexive.
impl Eq for Forest {}

impl Forest {
    fn leaf(&self, root: usize, x: &[f32]) -> &Node {
        let mut n = &self.nodes[root];
        while n.mode != Mode::Leaf {
            let v = x[n.feature];
            let yes = match n.mode {
                _ if v.is_nan() => n.nan_goes_yes,
                Mode::Leq => v <= n.value,
                Mode::Lt => v < n.value,
                Mode::Gte => v >= n.value,
                Mode::Gt => v > n.value,
                Mode::Eq => v == n.value,
                Mode::Neq => v != n.value,
                Mode::Leaf => false, // not reached: the loop stops at leaves
            };
            n = &self.nodes[if yes { n.yes } else { n.no }];
        }
        n
    }

    /// Scores every row of a 2-d input: the number of rows, and `targets` values a row.
    fn score_input(&self, input: TValue, op: &str) -> TractResult<(usize, Vec<f32>)> {
        let input = input.cast_to::<f32>()?;
        let x = input.to_plain_array_view::<f32>()?;
        let shape = x.shape();
        ensure!(shape.len() == 2, "{op} takes a 2-d input");
        let (rows, cols) = (shape[0], shape[1]);
        ensure!(
            rows == 0 || cols > self.max_feature,
            "the trees read feature {} but the input has {cols} features",
            self.max_feature
        );
        let x = x.as_standard_layout();
        let flat = x.as_slice().context("contiguous input")?;
        let mut out = vec![0f32; rows * self.targets];
        for r in 0..rows {
            self.score(
                &flat[r * cols..(r + 1) * cols],
                &mut out[r * self.targets..(r + 1) * self.targets],
            );
        }
        Ok((rows, out))
    }

    /// Scores one row into `out` (`targets` values), summing in f64: onnxruntime sums in
    /// f32, so the two can differ in the last bit or two of an f32.
    fn score(&self, x: &[f32], out: &mut [f32]) {
        let mut acc = vec![0f64; self.targets];
        let mut seen = vec![false; self.targets];
        for &root in &self.roots {
            let leaf = self.leaf(root, x);
            for &(t, w) in &self.weights[leaf.weights.clone()] {
                let w = w as f64;
                acc[t] = match (self.aggregate, seen[t]) {
                    (Aggregate::Min, true) => acc[t].min(w),
                    (Aggregate::Max, true) => acc[t].max(w),
                    (Aggregate::Sum | Aggregate::Average, _) | (_, false) => acc[t] + w,
                };
                seen[t] = true;
            }
        }
        let trees = self.roots.len().max(1) as f64;
        for (t, o) in out.iter_mut().enumerate() {
            let v = match self.aggregate {
                Aggregate::Average => acc[t] / trees,
                _ => acc[t],
            };
            *o = (v + self.base.get(t).copied().unwrap_or(0.0) as f64) as f32;
        }
    }
}

fn tree_ensemble_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let post: Option<String> = node.get_attr_opt("post_transform")?;
    if let Some(p) = post.filter(|p| p != "NONE") {
        bail!("post_transform {p} is not supported (only NONE)");
    }
    let aggregate = match node
        .get_attr_opt::<String>("aggregate_function")?
        .as_deref()
        .unwrap_or("SUM")
    {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        other => bail!("unknown aggregate_function {other}"),
    };
    let targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
    node.expect(targets > 0, "n_targets > 0")?;
    let forest = forest(node, "target", targets as usize, aggregate)?;
    Ok((expand(TreeRegressorExpansion(Arc::new(forest))), vec![]))
}

/// The trees of a `TreeEnsembleRegressor` (leaf weights in `target_*`) or of a
/// `TreeEnsembleClassifier` (in `class_*`), with `outputs` values per row.
fn forest(
    node: &NodeProto,
    prefix: &str,
    targets: usize,
    aggregate: Aggregate,
) -> TractResult<Forest> {
    let tree_ids: Vec<i64> = node.get_attr_vec("nodes_treeids")?;
    let node_ids: Vec<i64> = node.get_attr_vec("nodes_nodeids")?;
    let features: Vec<i64> = node.get_attr_vec("nodes_featureids")?;
    let values: Vec<f32> = node.get_attr_opt_vec("nodes_values")?.ok_or_else(|| {
        format_err!("nodes_values is required (nodes_values_as_tensor is not supported)")
    })?;
    let modes: Vec<String> = node.get_attr_vec("nodes_modes")?;
    let yes: Vec<i64> = node.get_attr_vec("nodes_truenodeids")?;
    let no: Vec<i64> = node.get_attr_vec("nodes_falsenodeids")?;
    let nan_yes: Vec<i64> = node
        .get_attr_opt_vec("nodes_missing_value_tracks_true")?
        .unwrap_or_default();
    let n = tree_ids.len();
    for (name, len) in [
        ("nodes_nodeids", node_ids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_values", values.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", yes.len()),
        ("nodes_falsenodeids", no.len()),
    ] {
        node.expect(len == n, || {
            format!("{name} has as many entries as nodes_treeids")
        })?;
    }
    let index: HashMap<(i64, i64), usize> = tree_ids
        .iter()
        .zip(&node_ids)
        .enumerate()
        .map(|(i, (&t, &id))| ((t, id), i))
        .collect();
    let child = |tree: i64, id: i64| {
        index
            .get(&(tree, id))
            .copied()
            .ok_or_else(|| format_err!("tree {tree} refers to node {id}, which it does not have"))
    };

    let t_trees: Vec<i64> = node.get_attr_vec(&format!("{prefix}_treeids"))?;
    let t_nodes: Vec<i64> = node.get_attr_vec(&format!("{prefix}_nodeids"))?;
    let t_ids: Vec<i64> = node.get_attr_vec(&format!("{prefix}_ids"))?;
    let t_weights: Vec<f32> = node
        .get_attr_opt_vec(&format!("{prefix}_weights"))?
        .ok_or_else(|| {
            format_err!(
                "{prefix}_weights is required ({prefix}_weights_as_tensor is not supported)"
            )
        })?;
    node.expect(
        t_nodes.len() == t_trees.len()
            && t_ids.len() == t_trees.len()
            && t_weights.len() == t_trees.len(),
        || format!("{prefix}_* attributes have as many entries as {prefix}_treeids"),
    )?;
    let mut by_leaf: Vec<Vec<(usize, f32)>> = vec![vec![]; n];
    for i in 0..t_trees.len() {
        let leaf = child(t_trees[i], t_nodes[i])?;
        let t = usize::try_from(t_ids[i])
            .ok()
            .filter(|t| *t < targets)
            .ok_or_else(|| {
                format_err!(
                    "{prefix}_ids has {} but there are {targets} outputs",
                    t_ids[i]
                )
            })?;
        by_leaf[leaf].push((t, t_weights[i]));
    }

    let mut nodes = Vec::with_capacity(n);
    let mut weights = vec![];
    for i in 0..n {
        let mode = Mode::parse(&modes[i])?;
        let start = weights.len();
        weights.extend(by_leaf[i].iter().copied());
        let leaf = mode == Mode::Leaf;
        nodes.push(Node {
            mode,
            feature: usize::try_from(features[i])
                .map_err(|_| format_err!("negative feature id"))?,
            value: values[i],
            yes: if leaf { i } else { child(tree_ids[i], yes[i])? },
            no: if leaf { i } else { child(tree_ids[i], no[i])? },
            nan_goes_yes: nan_yes.get(i).is_some_and(|v| *v != 0),
            weights: start..weights.len(),
        });
    }
    // A tree's root is its node that no other node points to.
    let mut pointed = vec![false; n];
    for nd in nodes.iter().filter(|nd| nd.mode != Mode::Leaf) {
        pointed[nd.yes] = true;
        pointed[nd.no] = true;
    }
    let mut roots: Vec<usize> = (0..n).filter(|i| !pointed[*i]).collect();
    roots.sort_by_key(|i| (tree_ids[*i], node_ids[*i]));
    let mut distinct: Vec<i64> = tree_ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    node.expect(
        roots.len() == distinct.len(),
        "every tree has exactly one root",
    )?;
    let base: Vec<f32> = node.get_attr_opt_vec("base_values")?.unwrap_or_default();
    let max_feature = nodes
        .iter()
        .filter(|n| n.mode != Mode::Leaf)
        .map(|n| n.feature)
        .max()
        .unwrap_or(0);
    Ok(Forest {
        nodes,
        roots,
        weights,
        targets,
        base,
        aggregate,
        max_feature,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TreeRegressorExpansion(Arc<Forest>);

impl Expansion for TreeRegressorExpansion {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.0.targets.to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, TreeRegressor(self.0.clone()), inputs)
    }
}

/// The typed op the expansion wires in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TreeRegressor(Arc<Forest>);

impl Op for TreeRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (rows, out) = self
            .0
            .score_input(args_1!(inputs), "TreeEnsembleRegressor")?;
        Ok(tvec!(
            tensor1(&out)
                .into_shape(&[rows, self.0.targets])?
                .into_tvalue()
        ))
    }
}

impl TypedOp for TreeRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&[
            inputs[0].shape[0].clone(),
            self.0.targets.to_dim()
        ])))
    }

    as_op!();
}

// ---- TreeEnsembleClassifier: per-class scores summed over the trees, then the label ------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PostTransform {
    None,
    Softmax,
    Logistic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Classifier {
    forest: Arc<Forest>,
    /// `classlabels_int64s` or `classlabels_strings`, as a 1-d tensor.
    labels: Arc<Tensor>,
    post: PostTransform,
}

fn tree_ensemble_classifier(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ints: Option<Vec<i64>> = node.get_attr_opt_vec("classlabels_int64s")?;
    let strings: Option<Vec<String>> = node.get_attr_opt_vec("classlabels_strings")?;
    let labels = match (ints, strings) {
        (Some(i), None) => tensor1(&i),
        (None, Some(s)) => tensor1(&s),
        _ => bail!("exactly one of classlabels_int64s and classlabels_strings is needed"),
    };
    let classes = labels.len();
    let post = match node
        .get_attr_opt::<String>("post_transform")?
        .as_deref()
        .unwrap_or("NONE")
    {
        "NONE" => Some(PostTransform::None),
        "SOFTMAX" => Some(PostTransform::Softmax),
        "LOGISTIC" => Some(PostTransform::Logistic),
        _ => None,
    };
    let class_ids: Vec<i64> = node.get_attr_vec("class_ids")?;
    // Two classes scored in one column: onnxruntime's special layout, left to tract.
    let one_column = classes <= 2 && class_ids.iter().all(|c| *c == class_ids[0]);
    match (post, one_column, TRACT_CLASSIFIER.get()) {
        (Some(post), false, _) => {
            let forest = forest(node, "class", classes, Aggregate::Sum)?;
            Ok((
                expand(Classifier {
                    forest: Arc::new(forest),
                    labels: labels.into_arc_tensor(),
                    post,
                }),
                vec![],
            ))
        }
        (_, _, Some(tract)) => tract(ctx, node),
        _ => bail!("this TreeEnsembleClassifier form is not supported"),
    }
}

impl Expansion for Classifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(2)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 2)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, self.labels.datum_type())?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].datum_type, DatumType::F32)?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[1], self.labels.len().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for Classifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Classifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (rows, mut scores) = self
            .forest
            .score_input(args_1!(inputs), "TreeEnsembleClassifier")?;
        let classes = self.forest.targets;
        let mut winners = Vec::with_capacity(rows);
        for r in 0..rows {
            let row = &mut scores[r * classes..(r + 1) * classes];
            match self.post {
                PostTransform::None => {}
                PostTransform::Logistic => {
                    for v in row.iter_mut() {
                        *v = 1.0 / (1.0 + (-*v).exp());
                    }
                }
                PostTransform::Softmax => {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0.0;
                    for v in row.iter_mut() {
                        *v = (*v - max).exp();
                        sum += *v;
                    }
                    for v in row.iter_mut() {
                        *v /= sum;
                    }
                }
            }
            // The first of the highest scores, as onnxruntime picks it.
            let mut best = 0;
            for (c, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = c;
                }
            }
            winners.push(best);
        }
        let labels = if self.labels.datum_type() == DatumType::String {
            let all = self.labels.to_plain_array_view::<String>()?;
            tensor1(&winners.iter().map(|w| all[*w].clone()).collect::<Vec<_>>())
        } else {
            let all = self.labels.to_plain_array_view::<i64>()?;
            tensor1(&winners.iter().map(|w| all[*w]).collect::<Vec<_>>())
        };
        Ok(tvec!(
            labels.into_tvalue(),
            tensor1(&scores).into_shape(&[rows, classes])?.into_tvalue()
        ))
    }
}

impl TypedOp for Classifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = inputs[0].shape[0].clone();
        Ok(tvec!(
            self.labels.datum_type().fact(std::slice::from_ref(&rows)),
            f32::fact(&[rows, self.labels.len().to_dim()])
        ))
    }

    as_op!();
}
