//! Inspection: the comparisons, qualifiers and observation operators of a pattern, as typed
//! data. The compiled matcher (exact-value hash sets, CIDR tries, Aho-Corasick over `LIKE`
//! literals) and the exports are built on this, never on the pattern text.

use crate::ast::*;

/// One comparison, with where it sits.
#[derive(Debug, Clone, Copy)]
pub struct ComparisonInfo<'p> {
    /// Index (in source order, from 0) of the `[...]` observation expression holding it.
    pub observation: usize,
    /// The object type (`file`).
    pub object_type: &'p str,
    /// The property steps (`hashes`, `SHA-256`).
    pub path: &'p [PathStep],
    /// The operator.
    pub op: CompareOp,
    /// `NOT` was given.
    pub negated: bool,
    /// The typed operand.
    pub operand: &'p Operand,
    /// The whole comparison node.
    pub comparison: &'p Comparison,
}

impl ComparisonInfo<'_> {
    /// The operator as the reference inspector spells it (`NOT !=`, `ISSUBSET`).
    pub fn op_text(&self) -> String {
        if self.negated {
            format!("NOT {}", self.op.as_str())
        } else {
            self.op.as_str().to_owned()
        }
    }

    /// The single literal of an equality test (`=`, not negated), the shape that exact-value
    /// indexes (hash sets, tries) can serve directly.
    pub fn exact_value(&self) -> Option<&Literal> {
        match (self.op, self.negated, self.operand) {
            (CompareOp::Eq, false, Operand::Literal(l)) => Some(l),
            _ => None,
        }
    }
}

/// A qualifier and the observation expression it qualifies.
#[derive(Debug, Clone, Copy)]
pub struct QualifierInfo<'p> {
    /// The qualifier.
    pub qualifier: &'p Qualifier,
    /// The qualified expression.
    pub applies_to: &'p ObservationExpr,
}

/// Everything [`Pattern::inspect`] finds.
#[derive(Debug, Clone)]
pub struct Inspection<'p> {
    /// Every comparison, in source order.
    pub comparisons: Vec<ComparisonInfo<'p>>,
    /// Every qualifier, innermost first within a chain, in source order otherwise.
    pub qualifiers: Vec<QualifierInfo<'p>>,
    /// Observation operators used, each once, in order of first appearance (source order).
    pub observation_ops: Vec<ObservationOp>,
    /// The `[...]` observation expressions, in source order.
    pub observation_expressions: Vec<&'p ObservationExpr>,
}

impl Pattern {
    /// Lists the pattern's comparisons, qualifiers and observation operators.
    pub fn inspect(&self) -> Inspection<'_> {
        let mut ins = Inspection {
            comparisons: Vec::new(),
            qualifiers: Vec::new(),
            observation_ops: Vec::new(),
            observation_expressions: Vec::new(),
        };
        walk_obs(&self.root, &mut ins);
        ins
    }
}

fn walk_obs<'p>(e: &'p ObservationExpr, ins: &mut Inspection<'p>) {
    match e {
        ObservationExpr::Simple { comparison, .. } => {
            let idx = ins.observation_expressions.len();
            ins.observation_expressions.push(e);
            walk_cmp(comparison, idx, ins);
        }
        ObservationExpr::Binary {
            op, left, right, ..
        } => {
            walk_obs(left, ins);
            if !ins.observation_ops.contains(op) {
                ins.observation_ops.push(*op);
            }
            walk_obs(right, ins);
        }
        ObservationExpr::Group { inner, .. } => walk_obs(inner, ins),
        ObservationExpr::Qualified {
            inner, qualifier, ..
        } => {
            walk_obs(inner, ins);
            ins.qualifiers.push(QualifierInfo {
                qualifier,
                applies_to: inner,
            });
        }
    }
}

fn walk_cmp<'p>(c: &'p ComparisonExpr, observation: usize, ins: &mut Inspection<'p>) {
    match c {
        ComparisonExpr::And(l, r, _) | ComparisonExpr::Or(l, r, _) => {
            walk_cmp(l, observation, ins);
            walk_cmp(r, observation, ins);
        }
        ComparisonExpr::Group(inner, _) => walk_cmp(inner, observation, ins),
        ComparisonExpr::Test(t) => ins.comparisons.push(ComparisonInfo {
            observation,
            object_type: &t.path.object_type,
            path: &t.path.steps,
            op: t.op,
            negated: t.negated,
            operand: &t.operand,
            comparison: t,
        }),
    }
}
