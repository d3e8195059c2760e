//! Recursive-descent parser over the tokens of [`crate::lexer`], following `STIXPattern.g4`:
//! `FOLLOWEDBY` binds loosest, then `OR`, then `AND` (all left-associative), qualifiers bind
//! tightest and chain (`[…] REPEATS 5 TIMES WITHIN 1800 SECONDS`).
//!
//! On a syntax error inside `[ … ]` the parser skips to the matching `]` and goes on, so one
//! run reports the problems of every observation expression; a pattern with any syntax error
//! yields no tree.

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, LineIndex, Span, shorten};
use crate::lexer::{Kw, Tok, Token};
use crate::{MAX_DIAGNOSTICS, StixVersion};

/// Nesting (parentheses, brackets) deeper than this is refused: it would only serve to exhaust
/// the stack of whatever walks the tree.
pub const MAX_DEPTH: usize = 64;
/// More `AND`/`OR`/`FOLLOWEDBY` operators and qualifiers than this in one pattern are refused,
/// for the same reason (operator chains make trees as deep as they are long).
pub const MAX_OPERATORS: usize = 250;

struct Failed;
type PResult<T> = Result<T, Failed>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    version: StixVersion,
    depth: usize,
    operators: usize,
    pub(crate) diags: Vec<Diagnostic>,
    /// An error was found with [`MAX_DIAGNOSTICS`] already reported: parsing stops (no
    /// recovery).
    pub(crate) stopped: bool,
    /// Line starts of `src`, built when a message first needs a position.
    lines: Option<LineIndex<'a>>,
}

const OPERATORS: &str = "=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET or ISSUPERSET";

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, toks: Vec<Token>, version: StixVersion) -> Self {
        Parser {
            src,
            toks,
            pos: 0,
            version,
            depth: 0,
            operators: 0,
            diags: Vec::new(),
            stopped: false,
            lines: None,
        }
    }

    fn peek(&self) -> &Token {
        // The token list always ends with Eof, and `bump` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn text(&self, span: Span) -> &str {
        self.src.get(span.range()).unwrap_or("")
    }

    fn found(&self) -> String {
        let t = self.peek();
        t.tok.describe(self.text(t.span))
    }

    fn col(&mut self, span: Span) -> String {
        let src = self.src;
        let (l, c) = self
            .lines
            .get_or_insert_with(|| LineIndex::new(src))
            .line_col(span.start as usize);
        if l == 1 {
            format!("column {c}")
        } else {
            format!("line {l}, column {c}")
        }
    }

    /// A property name of an object path: the first, right after `object_type:` (`Some`), or
    /// one after a `.` (`None`). An unquoted name without hyphens or a quoted one; anything else
    /// is an error that says what to write.
    fn path_key(
        &mut self,
        tok: Tok,
        span: Span,
        object_type: Option<&str>,
    ) -> Result<String, Failed> {
        match tok {
            Tok::Ident {
                text,
                hyphen: false,
            } => Ok(text),
            Tok::Str(s) => Ok(s),
            Tok::Ident { text, hyphen: true } => {
                let msg = match object_type {
                    Some(_) => format!(
                        "property names with `-` must be quoted: write '{}' (only object \
                         types may contain unquoted hyphens)",
                        shorten(&text)
                    ),
                    None => format!(
                        "property names with `-` must be quoted: write .'{}'",
                        shorten(&text)
                    ),
                };
                Err(self.error(span, msg))
            }
            Tok::Kw(_) => {
                let w = self.text(span).to_owned();
                Err(self.error(
                    span,
                    format!("`{w}` is a keyword: quote the property name ('{w}')"),
                ))
            }
            other => {
                let found = other.describe(self.text(span));
                let after = match object_type {
                    Some(t) => format!("{}:", shorten(t)),
                    None => ".".to_owned(),
                };
                Err(self.error(
                    span,
                    format!("expected a property name after `{after}`, found {found}"),
                ))
            }
        }
    }

    fn error(&mut self, span: Span, msg: String) -> Failed {
        // A token the lexer already reported adds no information.
        if !self.diags.iter().any(|d| d.span == span) {
            self.push(Diagnostic::error(Code::Syntax, span, msg));
        }
        Failed
    }

    /// Records a diagnostic, or stops the parse once [`MAX_DIAGNOSTICS`] are recorded.
    fn push(&mut self, d: Diagnostic) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            self.stopped = true;
        } else {
            self.diags.push(d);
        }
    }

    fn error_here(&mut self, msg: String) -> Failed {
        let span = self.peek().span;
        if matches!(self.peek().tok, Tok::Invalid) {
            // Already reported by the lexer.
            return Failed;
        }
        self.error(span, msg)
    }

    /// A hint when an identifier is a keyword written in the wrong case.
    fn case_hint(&self) -> String {
        if let Tok::Ident { text, .. } = &self.peek().tok {
            let up = text.to_ascii_uppercase();
            if Kw::from_word(&up).is_some() {
                return format!(" (keywords are upper case: did you mean `{up}`?)");
            }
        }
        String::new()
    }

    /// Counts one more operator; fails past [`MAX_OPERATORS`].
    fn operator(&mut self) -> PResult<()> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            let span = self.peek().span;
            return Err(self.error(
                span,
                format!("the pattern has more than {MAX_OPERATORS} operators and qualifiers"),
            ));
        }
        Ok(())
    }

    fn is_kw(&self, kw: Kw) -> bool {
        self.peek().tok == Tok::Kw(kw)
    }

    fn enter(&mut self, span: Span) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                span,
                format!("the pattern nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------

    pub(crate) fn parse_pattern(&mut self) -> Option<Pattern> {
        match self.peek().tok {
            Tok::LBrack | Tok::LParen => {}
            Tok::Eof => {
                let span = self.peek().span;
                self.error(
                    span,
                    "the pattern is empty: write an observation expression such as \
                     [file:name = 'a.exe']"
                        .to_owned(),
                );
                return None;
            }
            Tok::Invalid => return None,
            _ => {
                let span = self.peek().span;
                let found = self.found();
                self.error(
                    span,
                    format!(
                        "a pattern starts with `[` (an observation expression such as \
                         [file:name = 'a.exe']) or `(`, found {found}: the input is missing \
                         square brackets"
                    ),
                );
                return None;
            }
        }
        let root = self.obs_followedby().ok();
        if root.is_some() && !matches!(self.peek().tok, Tok::Eof) {
            let found = self.found();
            let hint = self.case_hint();
            let msg = if matches!(self.peek().tok, Tok::RParen) {
                "this `)` closes nothing".to_owned()
            } else if matches!(self.peek().tok, Tok::RBrack) {
                "this `]` closes nothing".to_owned()
            } else {
                format!(
                    "unexpected {found} after a complete observation expression: expected \
                     AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of \
                     the pattern{hint}"
                )
            };
            self.error_here(msg);
            return None;
        }
        if self.diags.iter().any(Diagnostic::is_error) {
            return None;
        }
        root.map(|root| Pattern { root })
    }

    fn obs_followedby(&mut self) -> PResult<ObservationExpr> {
        let mut left = self.obs_or()?;
        while self.is_kw(Kw::FollowedBy) {
            self.operator()?;
            self.bump();
            let right = self.obs_or()?;
            left = binary(ObservationOp::FollowedBy, left, right);
        }
        Ok(left)
    }

    fn obs_or(&mut self) -> PResult<ObservationExpr> {
        let mut left = self.obs_and()?;
        while self.is_kw(Kw::Or) {
            self.operator()?;
            self.bump();
            let right = self.obs_and()?;
            left = binary(ObservationOp::Or, left, right);
        }
        Ok(left)
    }

    fn obs_and(&mut self) -> PResult<ObservationExpr> {
        let mut left = self.obs_unit()?;
        while self.is_kw(Kw::And) {
            self.operator()?;
            self.bump();
            let right = self.obs_unit()?;
            left = binary(ObservationOp::And, left, right);
        }
        Ok(left)
    }

    fn obs_unit(&mut self) -> PResult<ObservationExpr> {
        let open = self.peek().span;
        self.enter(open)?;
        let mut expr = match self.peek().tok {
            Tok::LBrack => self.obs_simple()?,
            Tok::LParen => {
                self.bump();
                let inner = self.obs_followedby()?;
                if !matches!(self.peek().tok, Tok::RParen) {
                    let found = self.found();
                    let at = self.col(open);
                    return Err(self.error_here(format!(
                        "expected `)` to close the group opened at {at}, found {found}"
                    )));
                }
                let close = self.bump().span;
                ObservationExpr::Group {
                    inner: Box::new(inner),
                    span: open.to(close),
                }
            }
            _ => {
                let found = self.found();
                let hint = self.case_hint();
                return Err(self.error_here(format!(
                    "expected an observation expression (`[…]` or `(…)`), found {found}{hint}"
                )));
            }
        };
        loop {
            if matches!(
                self.peek().tok,
                Tok::Kw(Kw::Within) | Tok::Kw(Kw::Repeats) | Tok::Kw(Kw::Start)
            ) {
                self.operator()?;
            }
            let q = match self.peek().tok {
                Tok::Kw(Kw::Within) => self.within()?,
                Tok::Kw(Kw::Repeats) => self.repeats()?,
                Tok::Kw(Kw::Start) => self.start_stop()?,
                _ => break,
            };
            let span = expr.span().to(q.span());
            expr = ObservationExpr::Qualified {
                inner: Box::new(expr),
                qualifier: q,
                span,
            };
        }
        self.depth -= 1;
        Ok(expr)
    }

    fn obs_simple(&mut self) -> PResult<ObservationExpr> {
        let open = self.bump().span;
        let depth = self.depth;
        let result = self.cmp_or().and_then(|c| {
            if matches!(self.peek().tok, Tok::RBrack) {
                Ok(c)
            } else {
                let found = self.found();
                let at = self.col(open);
                let msg = if matches!(self.peek().tok, Tok::Eof) {
                    format!(
                        "expected `]` to close the observation expression opened at {at}, \
                         but the pattern ends"
                    )
                } else {
                    format!(
                        "expected `]` to close the observation expression opened at {at} (or \
                         AND / OR to continue it), found {found}{}",
                        self.case_hint()
                    )
                };
                Err(self.error_here(msg))
            }
        });
        match result {
            Ok(comparison) => {
                let close = self.bump().span;
                Ok(ObservationExpr::Simple {
                    comparison,
                    span: open.to(close),
                })
            }
            Err(Failed) => {
                self.depth = depth;
                if self.stopped {
                    return Err(Failed);
                }
                // Recover: skip to the `]` matching `open` and go on with the rest.
                let mut depth = 0usize;
                loop {
                    match self.peek().tok {
                        Tok::Eof => return Err(Failed),
                        Tok::LBrack => depth += 1,
                        Tok::RBrack if depth == 0 => {
                            let close = self.bump().span;
                            // A placeholder; the pattern is discarded because of the error.
                            return Ok(ObservationExpr::Simple {
                                comparison: ComparisonExpr::Group(
                                    Box::new(placeholder_test(open.to(close))),
                                    open.to(close),
                                ),
                                span: open.to(close),
                            });
                        }
                        Tok::RBrack => depth -= 1,
                        _ => {}
                    }
                    self.bump();
                }
            }
        }
    }

    fn within(&mut self) -> PResult<Qualifier> {
        let kw = self.bump().span;
        let seconds = match self.peek().tok {
            Tok::Int(Some(i)) if !self.text(self.peek().span).starts_with('-') => Seconds::Int(i),
            Tok::Float(f) if !self.text(self.peek().span).starts_with('-') => Seconds::Float(f),
            Tok::Int(_) | Tok::Float(_) => {
                let found = self.found();
                return Err(self.error_here(format!(
                    "the WITHIN duration must be a positive number of seconds, found {found}"
                )));
            }
            _ => {
                let found = self.found();
                return Err(self.error_here(format!(
                    "expected a positive number of seconds after WITHIN (e.g. WITHIN 300 \
                     SECONDS), found {found}"
                )));
            }
        };
        self.bump();
        if !self.is_kw(Kw::Seconds) {
            let found = self.found();
            let hint = self.case_hint();
            return Err(self.error_here(format!(
                "expected SECONDS (the only unit STIX patterns have) after the WITHIN \
                 duration, found {found}{hint}"
            )));
        }
        let end = self.bump().span;
        Ok(Qualifier::Within {
            seconds,
            span: kw.to(end),
        })
    }

    fn repeats(&mut self) -> PResult<Qualifier> {
        let kw = self.bump().span;
        let count = match self.peek().tok {
            Tok::Int(Some(i)) if !self.text(self.peek().span).starts_with('-') => i,
            _ => {
                let found = self.found();
                return Err(self.error_here(format!(
                    "expected a positive whole number after REPEATS (e.g. REPEATS 5 TIMES), \
                     found {found}"
                )));
            }
        };
        self.bump();
        if !self.is_kw(Kw::Times) {
            let found = self.found();
            let hint = self.case_hint();
            return Err(self.error_here(format!(
                "expected TIMES after `REPEATS {count}`, found {found}{hint}"
            )));
        }
        let end = self.bump().span;
        Ok(Qualifier::Repeats {
            count,
            span: kw.to(end),
        })
    }

    fn time_bound(&mut self, after: &str) -> PResult<TimeBound> {
        let t = self.peek().clone();
        match (&t.tok, self.version) {
            (Tok::Lit(Literal::Timestamp(ts)), _) => {
                self.bump();
                Ok(TimeBound::Timestamp(ts.clone()))
            }
            (Tok::Str(s), StixVersion::V20) => {
                self.bump();
                Ok(TimeBound::String(s.clone()))
            }
            (Tok::Str(s), StixVersion::V21) => {
                let s = shorten(s);
                self.bump();
                self.push(Diagnostic::error(
                    Code::VersionMismatch,
                    t.span,
                    format!(
                        "STIX 2.1 requires a timestamp literal after {after}: write t'{s}' \
                         (the plain string form is STIX 2.0)"
                    ),
                ));
                Err(Failed)
            }
            _ => {
                let found = self.found();
                Err(self.error_here(format!(
                    "expected a timestamp after {after} (e.g. t'2024-01-01T00:00:00Z'), found \
                     {found}"
                )))
            }
        }
    }

    fn start_stop(&mut self) -> PResult<Qualifier> {
        let kw = self.bump().span;
        let start = self.time_bound("START")?;
        if !self.is_kw(Kw::Stop) {
            let found = self.found();
            let hint = self.case_hint();
            return Err(self.error_here(format!(
                "expected STOP and a timestamp after the START timestamp, found {found}{hint}"
            )));
        }
        self.bump();
        let stop = self.time_bound("STOP")?;
        let end = self.toks[self.pos.saturating_sub(1)].span;
        Ok(Qualifier::StartStop {
            start,
            stop,
            span: kw.to(end),
        })
    }

    // ---- comparison expressions -------------------------------------------------------------

    fn cmp_or(&mut self) -> PResult<ComparisonExpr> {
        let mut left = self.cmp_and()?;
        while self.is_kw(Kw::Or) {
            self.operator()?;
            self.bump();
            let right = self.cmp_and()?;
            let span = left.span().to(right.span());
            left = ComparisonExpr::Or(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }

    fn cmp_and(&mut self) -> PResult<ComparisonExpr> {
        let mut left = self.prop_test()?;
        while self.is_kw(Kw::And) {
            self.operator()?;
            self.bump();
            let right = self.prop_test()?;
            let span = left.span().to(right.span());
            left = ComparisonExpr::And(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }

    fn prop_test(&mut self) -> PResult<ComparisonExpr> {
        let first = self.peek().clone();
        match &first.tok {
            Tok::LParen => {
                self.enter(first.span)?;
                self.bump();
                let inner = self.cmp_or()?;
                if !matches!(self.peek().tok, Tok::RParen) {
                    let found = self.found();
                    let at = self.col(first.span);
                    return Err(self.error_here(format!(
                        "expected `)` to close the parenthesis opened at {at}, found {found}"
                    )));
                }
                let close = self.bump().span;
                self.depth -= 1;
                Ok(ComparisonExpr::Group(Box::new(inner), first.span.to(close)))
            }
            Tok::Kw(Kw::Exists) => self.exists(first.span, false),
            Tok::Kw(Kw::Not) if self.peek_at(1) == &Tok::Kw(Kw::Exists) => {
                self.bump();
                self.exists(first.span, true)
            }
            Tok::Ident { .. } => self.comparison(),
            Tok::RBrack => Err(self.error_here(
                "expected a comparison such as file:name = 'a.exe', found `]`: the brackets \
                 are empty or the comparison is incomplete"
                    .to_owned(),
            )),
            _ => {
                let found = self.found();
                Err(self.error_here(format!(
                    "expected a comparison (an object path such as file:name, then an \
                     operator and a value), found {found}"
                )))
            }
        }
    }

    fn exists(&mut self, start: Span, negated: bool) -> PResult<ComparisonExpr> {
        let kw = self.bump().span;
        if self.version == StixVersion::V20 {
            self.push(Diagnostic::error(
                Code::VersionMismatch,
                kw,
                "EXISTS is STIX 2.1; STIX 2.0 patterns do not have it",
            ));
            return Err(Failed);
        }
        let path = self.object_path()?;
        let span = start.to(path.span);
        Ok(ComparisonExpr::Test(Comparison {
            path,
            negated,
            op: CompareOp::Exists,
            operand: Operand::None,
            span,
            op_span: kw,
            operand_span: Span::new(span.end as usize, span.end as usize),
        }))
    }

    fn object_path(&mut self) -> PResult<ObjectPath> {
        let t = self.bump();
        let Tok::Ident {
            text: object_type, ..
        } = t.tok
        else {
            let found = t.tok.describe(self.text(t.span));
            return Err(self.error(
                t.span,
                format!("expected an object type such as `file`, found {found}"),
            ));
        };
        if !matches!(self.peek().tok, Tok::Colon) {
            let found = self.found();
            let sep = if matches!(self.peek().tok, Tok::Dot) {
                " (the object type is separated from the property by `:`, as in file:size)"
            } else {
                ""
            };
            return Err(self.error_here(format!(
                "expected `:` after the object type `{}`, found {found}{sep}",
                shorten(&object_type)
            )));
        }
        self.bump();
        let mut steps = Vec::new();
        let first = self.bump();
        steps.push(PathStep::Key(self.path_key(
            first.tok,
            first.span,
            Some(&object_type),
        )?));
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.bump();
                    let k = self.bump();
                    steps.push(PathStep::Key(self.path_key(k.tok, k.span, None)?));
                }
                Tok::LBrack => {
                    self.bump();
                    let i = self.bump();
                    let step = match i.tok {
                        Tok::Int(Some(n)) => PathStep::Index(n),
                        Tok::Star => PathStep::AnyIndex,
                        other => {
                            let found = other.describe(self.text(i.span));
                            return Err(self.error(
                                i.span,
                                format!(
                                    "expected a list index (a whole number or `*`) inside `[`, \
                                     found {found}"
                                ),
                            ));
                        }
                    };
                    if !matches!(self.peek().tok, Tok::RBrack) {
                        let found = self.found();
                        return Err(self.error_here(format!(
                            "expected `]` to close the list index, found {found}"
                        )));
                    }
                    self.bump();
                    steps.push(step);
                }
                _ => break,
            }
        }
        let end = self.toks[self.pos.saturating_sub(1)].span;
        Ok(ObjectPath {
            object_type,
            steps,
            span: t.span.to(end),
        })
    }

    fn comparison(&mut self) -> PResult<ComparisonExpr> {
        let path = self.object_path()?;
        let negated = if self.is_kw(Kw::Not) {
            self.bump();
            true
        } else {
            false
        };
        let op_tok = self.peek().clone();
        let op = match op_tok.tok {
            Tok::Eq => CompareOp::Eq,
            Tok::Ne => CompareOp::Ne,
            Tok::Lt => CompareOp::Lt,
            Tok::Le => CompareOp::Le,
            Tok::Gt => CompareOp::Gt,
            Tok::Ge => CompareOp::Ge,
            Tok::Kw(Kw::In) => CompareOp::In,
            Tok::Kw(Kw::Like) => CompareOp::Like,
            Tok::Kw(Kw::Matches) => CompareOp::Matches,
            Tok::Kw(Kw::IsSubset) => CompareOp::IsSubset,
            Tok::Kw(Kw::IsSuperset) => CompareOp::IsSuperset,
            _ => {
                let found = self.found();
                let hint = self.case_hint();
                let p = shorten(self.text(path.span));
                return Err(self.error_here(format!(
                    "expected a comparison operator ({OPERATORS}) after `{p}`, found \
                     {found}{hint}"
                )));
            }
        };
        self.bump();
        let operand_start = self.peek().span;
        let operand = match op {
            CompareOp::In => Operand::Set(self.set_literal()?),
            CompareOp::Like | CompareOp::Matches | CompareOp::IsSubset | CompareOp::IsSuperset => {
                match self.peek().tok.clone() {
                    Tok::Str(s) => {
                        self.bump();
                        Operand::Literal(Literal::String(s))
                    }
                    _ => {
                        let found = self.found();
                        let what = match op {
                            CompareOp::Like => "a quoted LIKE pattern such as 'evil%.exe'",
                            CompareOp::Matches => {
                                "a quoted regular expression such as '^evil.*\\\\.exe$' (not \
                                 /…/)"
                            }
                            _ => "a quoted IP address or CIDR block such as '10.0.0.0/8'",
                        };
                        return Err(
                            self.error_here(format!("{} takes {what}, found {found}", op.as_str()))
                        );
                    }
                }
            }
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
                let l = self.literal(op)?;
                if let Literal::Bool(_) = l {
                    let span = self.toks[self.pos - 1].span;
                    return Err(self.error(
                        span,
                        format!("{} cannot compare with a boolean", op.as_str()),
                    ));
                }
                Operand::Literal(l)
            }
            _ => Operand::Literal(self.literal(op)?),
        };
        let end = self.toks[self.pos.saturating_sub(1)].span;
        Ok(ComparisonExpr::Test(Comparison {
            span: path.span.to(end),
            path,
            negated,
            op,
            operand,
            op_span: op_tok.span,
            operand_span: operand_start.to(end),
        }))
    }

    fn literal(&mut self, op: CompareOp) -> PResult<Literal> {
        let t = self.peek().clone();
        let lit = match t.tok {
            Tok::Str(s) => Literal::String(s),
            Tok::Int(Some(i)) => Literal::Int(i),
            Tok::Float(f) => Literal::Float(f),
            Tok::Lit(l) => l,
            Tok::Ident { ref text, .. } if text == "null" => {
                return Err(self.error_here(
                    "`null` is not a STIX pattern value (there is no null literal); to test \
                     that a property is absent, use NOT EXISTS (STIX 2.1)"
                        .to_owned(),
                ));
            }
            Tok::Ident { ref text, .. }
                if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") =>
            {
                let lower = text.to_ascii_lowercase();
                return Err(self.error_here(format!("booleans are lower case: write `{lower}`")));
            }
            Tok::Ident { .. } => {
                let w = shorten(self.text(t.span));
                return Err(self.error_here(format!("`{w}` is not a value: quote strings ('{w}')")));
            }
            _ => {
                let found = self.found();
                return Err(self.error_here(format!(
                    "expected a value after `{}` (a quoted string, number, true/false, h'…', \
                     b'…' or t'…'), found {found}",
                    op.as_str()
                )));
            }
        };
        self.bump();
        Ok(lit)
    }

    fn set_literal(&mut self) -> PResult<Vec<Literal>> {
        if !matches!(self.peek().tok, Tok::LParen) {
            let found = self.found();
            return Err(self.error_here(format!(
                "IN takes a parenthesised list of values such as ('a', 'b'), found {found}"
            )));
        }
        let open = self.bump().span;
        let mut items = Vec::new();
        if matches!(self.peek().tok, Tok::RParen) {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.literal(CompareOp::In)?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(items);
                }
                _ => {
                    let found = self.found();
                    let at = self.col(open);
                    return Err(self.error_here(format!(
                        "expected `,` or `)` in the IN list opened at {at}, found {found}"
                    )));
                }
            }
        }
    }
}

fn binary(op: ObservationOp, left: ObservationExpr, right: ObservationExpr) -> ObservationExpr {
    let span = left.span().to(right.span());
    ObservationExpr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
        span,
    }
}

fn placeholder_test(span: Span) -> ComparisonExpr {
    ComparisonExpr::Test(Comparison {
        path: ObjectPath {
            object_type: String::new(),
            steps: Vec::new(),
            span,
        },
        negated: false,
        op: CompareOp::Exists,
        operand: Operand::None,
        span,
        op_span: span,
        operand_span: span,
    })
}
