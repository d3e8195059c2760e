//! The canonical printer (`Display`): single spaces, canonical operator spellings (`=`, `!=`),
//! quoted property names only where needed, hex in lower case, parentheses where written (and
//! where a hand-built tree needs them). `parse(print(p))` gives back `p` (ignoring spans).

use std::fmt::{self, Write as _};

use crate::ast::*;
use crate::lexer::Kw;

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_obs(f, &self.root)
    }
}

impl fmt::Display for ObservationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_obs(f, self)
    }
}

impl fmt::Display for ComparisonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_cmp(f, self)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_test(f, self)
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within { seconds, .. } => {
                f.write_str("WITHIN ")?;
                match seconds {
                    Seconds::Int(i) => write!(f, "{i}")?,
                    Seconds::Float(x) => f.write_str(&float_text(*x))?,
                }
                f.write_str(" SECONDS")
            }
            Qualifier::Repeats { count, .. } => write!(f, "REPEATS {count} TIMES"),
            Qualifier::StartStop { start, stop, .. } => {
                f.write_str("START ")?;
                write_bound(f, start)?;
                f.write_str(" STOP ")?;
                write_bound(f, stop)
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_quoted(f, s),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => f.write_str(&float_text(*x)),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Binary {
                bytes,
                form: BinaryForm::Hex,
            } => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("'")
            }
            Literal::Binary {
                bytes,
                form: BinaryForm::Base64,
            } => write!(f, "b'{}'", base64_encode(bytes)),
            Literal::Timestamp(t) => write!(f, "t'{}'", t.as_str()),
        }
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.object_type, self.property_path())
    }
}

fn write_bound(f: &mut fmt::Formatter<'_>, b: &TimeBound) -> fmt::Result {
    match b {
        TimeBound::Timestamp(t) => write!(f, "t'{}'", t.as_str()),
        TimeBound::String(s) => write_quoted(f, s),
    }
}

fn float_text(x: f64) -> String {
    // `Display` for f64 never uses exponent notation, and prints the shortest text that reads
    // back to the same value; the grammar needs a `.`.
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            _ => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

/// Writes a property name, quoted unless it is a plain identifier that is not a keyword.
pub(crate) fn write_key(out: &mut String, k: &str) {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && Kw::from_word(k).is_none()
        && k != "true"
        && k != "false";
    if plain {
        out.push_str(k);
    } else {
        // Writing to a String cannot fail.
        let _ = write_quoted(out, k);
    }
}

fn obs_prec(e: &ObservationExpr) -> u8 {
    match e {
        ObservationExpr::Binary { op, .. } => match op {
            ObservationOp::FollowedBy => 1,
            ObservationOp::Or => 2,
            ObservationOp::And => 3,
        },
        _ => 4,
    }
}

fn write_obs(f: &mut fmt::Formatter<'_>, e: &ObservationExpr) -> fmt::Result {
    match e {
        ObservationExpr::Simple { comparison, .. } => {
            f.write_char('[')?;
            write_cmp(f, comparison)?;
            f.write_char(']')
        }
        ObservationExpr::Group { inner, .. } => {
            f.write_char('(')?;
            write_obs(f, inner)?;
            f.write_char(')')
        }
        ObservationExpr::Binary {
            op, left, right, ..
        } => {
            let p = obs_prec(e);
            // Left-associative: the left operand may have equal precedence, the right may not.
            write_obs_paren(f, left, obs_prec(left) < p)?;
            write!(f, " {} ", op.as_str())?;
            write_obs_paren(f, right, obs_prec(right) <= p)
        }
        ObservationExpr::Qualified {
            inner, qualifier, ..
        } => {
            write_obs_paren(f, inner, obs_prec(inner) < 4)?;
            write!(f, " {qualifier}")
        }
    }
}

fn write_obs_paren(f: &mut fmt::Formatter<'_>, e: &ObservationExpr, paren: bool) -> fmt::Result {
    if paren {
        f.write_char('(')?;
        write_obs(f, e)?;
        f.write_char(')')
    } else {
        write_obs(f, e)
    }
}

fn cmp_prec(e: &ComparisonExpr) -> u8 {
    match e {
        ComparisonExpr::Or(..) => 1,
        ComparisonExpr::And(..) => 2,
        _ => 3,
    }
}

fn write_cmp(f: &mut fmt::Formatter<'_>, e: &ComparisonExpr) -> fmt::Result {
    match e {
        ComparisonExpr::Or(l, r, _) | ComparisonExpr::And(l, r, _) => {
            let p = cmp_prec(e);
            let kw = if p == 1 { "OR" } else { "AND" };
            write_cmp_paren(f, l, cmp_prec(l) < p)?;
            write!(f, " {kw} ")?;
            write_cmp_paren(f, r, cmp_prec(r) <= p)
        }
        ComparisonExpr::Group(inner, _) => {
            f.write_char('(')?;
            write_cmp(f, inner)?;
            f.write_char(')')
        }
        ComparisonExpr::Test(t) => write_test(f, t),
    }
}

fn write_cmp_paren(f: &mut fmt::Formatter<'_>, e: &ComparisonExpr, paren: bool) -> fmt::Result {
    if paren {
        f.write_char('(')?;
        write_cmp(f, e)?;
        f.write_char(')')
    } else {
        write_cmp(f, e)
    }
}

fn write_test(f: &mut fmt::Formatter<'_>, t: &Comparison) -> fmt::Result {
    if t.op == CompareOp::Exists {
        if t.negated {
            f.write_str("NOT ")?;
        }
        return write!(f, "EXISTS {}", t.path);
    }
    write!(f, "{} ", t.path)?;
    if t.negated {
        f.write_str("NOT ")?;
    }
    f.write_str(t.op.as_str())?;
    f.write_char(' ')?;
    match &t.operand {
        Operand::Literal(l) => write!(f, "{l}"),
        Operand::Set(items) => {
            f.write_char('(')?;
            for (i, l) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{l}")?;
            }
            f.write_char(')')
        }
        Operand::None => Ok(()),
    }
}

/// Standard padded base64.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::{StixVersion, parse};

    fn canon(s: &str) -> String {
        parse(s, StixVersion::V21).pattern.unwrap().to_string()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("[a:b==1]"), "[a:b = 1]");
        assert_eq!(canon("[a:b<>'x']"), "[a:b != 'x']");
        assert_eq!(
            canon("[file:hashes.'SHA-256' = h'FFD8']"),
            "[file:hashes.'SHA-256' = h'ffd8']"
        );
        assert_eq!(
            canon("[a:'b'.'c d'[*][0] > 7.0]"),
            "[a:b.'c d'[*][0] > 7.0]"
        );
        assert_eq!(
            canon("( [a:b=1] OR [a:c=2] ) WITHIN 5 SECONDS REPEATS 2 TIMES"),
            "([a:b = 1] OR [a:c = 2]) WITHIN 5 SECONDS REPEATS 2 TIMES"
        );
        assert_eq!(canon("[a:b = 'it\\'s \\\\']"), "[a:b = 'it\\'s \\\\']");
        assert_eq!(canon("[a:b IN(1,2.5,'x')]"), "[a:b IN (1, 2.5, 'x')]");
        assert_eq!(canon("[NOT EXISTS a:b]"), "[NOT EXISTS a:b]");
        assert_eq!(canon("[a:'AND' = true]"), "[a:'AND' = true]");
    }

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "al", "ali", "alic", "alice"] {
            let e = super::base64_encode(s.as_bytes());
            if !s.is_empty() {
                assert_eq!(crate::lexer::decode_base64(&e).unwrap(), s.as_bytes());
            }
        }
        assert_eq!(super::base64_encode(b"alice"), "YWxpY2U=");
    }
}
