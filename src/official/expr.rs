//! The Calculator's expression language: a recursive-descent parser and
//! evaluator over exact decimals. It never evaluates code: the only things
//! it knows are numbers, `+ - * / % ^`, parentheses, unary minus, the
//! constants `pi` and `e`, and a fixed list of functions.
//!
//! `0.1 + 0.2` is exactly `0.3`: arithmetic is decimal (28-29 significant
//! digits), not binary floating point. Powers with integer exponents stay
//! exact; `sqrt` and fractional powers are correct to decimal precision.

use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy, prelude::*};

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 1000;
/// Deepest nesting of parentheses and unary operators.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("the expression is empty")]
    Empty,
    #[error("the expression is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("unexpected {found} at position {pos}")]
    Unexpected { found: String, pos: usize },
    #[error("expected {expected} at position {pos}")]
    Expected { expected: &'static str, pos: usize },
    #[error(
        "unknown name '{0}' (functions: sqrt, abs, round, floor, ceil, min, max, ln, log10, exp; constants: pi, e)"
    )]
    UnknownName(String),
    #[error("{name} takes {expected} argument(s), got {got}")]
    Arity { name: String, expected: &'static str, got: usize },
    #[error("division by zero")]
    DivisionByZero,
    #[error("{0}")]
    Domain(String),
    #[error("the result is too large")]
    Overflow,
    #[error("the expression is nested too deeply")]
    TooDeep,
}

/// Evaluates an expression.
pub fn evaluate(input: &str) -> Result<Decimal, ExprError> {
    if input.len() > MAX_LEN {
        return Err(ExprError::TooLong);
    }
    if input.trim().is_empty() {
        return Err(ExprError::Empty);
    }
    let mut p = Parser { src: input.as_bytes(), pos: 0, depth: 0 };
    let value = p.expr()?;
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.unexpected());
    }
    Ok(value.normalize())
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.pos).copied()
    }

    fn unexpected(&self) -> ExprError {
        match std::str::from_utf8(&self.src[self.pos..]).ok().and_then(|s| s.chars().next()) {
            Some(c) => ExprError::Unexpected { found: format!("'{c}'"), pos: self.pos + 1 },
            None => ExprError::Unexpected { found: "end of expression".into(), pos: self.pos + 1 },
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(ExprError::TooDeep) } else { Ok(()) }
    }

    fn expr(&mut self) -> Result<Decimal, ExprError> {
        let mut acc = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            acc = if op == b'+' { acc.checked_add(rhs) } else { acc.checked_sub(rhs) }.ok_or(ExprError::Overflow)?;
        }
        Ok(acc)
    }

    fn term(&mut self) -> Result<Decimal, ExprError> {
        let mut acc = self.unary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.pos += 1;
            let rhs = self.unary()?;
            acc = match op {
                b'*' => acc.checked_mul(rhs).ok_or(ExprError::Overflow)?,
                _ if rhs.is_zero() => return Err(ExprError::DivisionByZero),
                b'/' => acc.checked_div(rhs).ok_or(ExprError::Overflow)?,
                _ => acc.checked_rem(rhs).ok_or(ExprError::Overflow)?,
            };
        }
        Ok(acc)
    }

    fn unary(&mut self) -> Result<Decimal, ExprError> {
        match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                self.enter()?;
                let v = -self.unary()?;
                self.depth -= 1;
                Ok(v)
            }
            Some(b'+') => {
                self.pos += 1;
                self.enter()?;
                let v = self.unary()?;
                self.depth -= 1;
                Ok(v)
            }
            _ => self.power(),
        }
    }

    /// `^` binds tighter than unary minus on its left (`-2^2` is -4) and is
    /// right-associative (`2^3^2` is 2^9).
    fn power(&mut self) -> Result<Decimal, ExprError> {
        let base = self.primary()?;
        if self.peek() == Some(b'^') {
            self.pos += 1;
            self.enter()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return pow(base, exp);
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Decimal, ExprError> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                self.enter()?;
                let v = self.expr()?;
                self.depth -= 1;
                if self.peek() != Some(b')') {
                    return Err(ExprError::Expected { expected: "')'", pos: self.pos + 1 });
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.name(),
            Some(_) => Err(self.unexpected()),
            None => Err(ExprError::Expected { expected: "a number", pos: self.pos + 1 }),
        }
    }

    fn number(&mut self) -> Result<Decimal, ExprError> {
        let start = self.pos;
        while self.pos < self.src.len() && (self.src[self.pos].is_ascii_digit() || self.src[self.pos] == b'.') {
            self.pos += 1;
        }
        let mut text = std::str::from_utf8(&self.src[start..self.pos]).expect("ASCII").to_string();
        // Scientific notation: 1e3, 2.5E-4.
        if self.pos < self.src.len() && (self.src[self.pos] | 0x20) == b'e' {
            let mut end = self.pos + 1;
            if end < self.src.len() && matches!(self.src[end], b'+' | b'-') {
                end += 1;
            }
            let digits = end;
            while end < self.src.len() && self.src[end].is_ascii_digit() {
                end += 1;
            }
            if end > digits {
                text.push_str(std::str::from_utf8(&self.src[self.pos..end]).expect("ASCII"));
                self.pos = end;
            }
        }
        let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(&text) } else { Decimal::from_str(&text) };
        parsed.map_err(|_| {
            if text.matches('.').count() > 1 || text == "." {
                ExprError::Unexpected { found: format!("number '{text}'"), pos: start + 1 }
            } else {
                ExprError::Overflow
            }
        })
    }

    fn name(&mut self) -> Result<Decimal, ExprError> {
        let start = self.pos;
        while self.pos < self.src.len() && (self.src[self.pos].is_ascii_alphanumeric() || self.src[self.pos] == b'_') {
            self.pos += 1;
        }
        let name = std::str::from_utf8(&self.src[start..self.pos]).expect("ASCII").to_ascii_lowercase();
        if self.peek() != Some(b'(') {
            return match name.as_str() {
                "pi" => Ok(Decimal::PI),
                "e" => Ok(Decimal::E),
                _ => Err(ExprError::UnknownName(name)),
            };
        }
        self.pos += 1;
        self.enter()?;
        let mut args = Vec::new();
        if self.peek() != Some(b')') {
            loop {
                args.push(self.expr()?);
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => break,
                    _ => return Err(ExprError::Expected { expected: "',' or ')'", pos: self.pos + 1 }),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        call(&name, &args)
    }
}

fn pow(base: Decimal, exp: Decimal) -> Result<Decimal, ExprError> {
    if exp.fract().is_zero() {
        let n = exp.to_i64().ok_or(ExprError::Overflow)?;
        if base.is_zero() && n < 0 {
            return Err(ExprError::DivisionByZero);
        }
        return base.checked_powi(n).ok_or(ExprError::Overflow);
    }
    if base.is_sign_negative() {
        return Err(ExprError::Domain("a negative number to a fractional power is not a real number".into()));
    }
    base.checked_powd(exp).ok_or(ExprError::Overflow)
}

fn call(name: &str, args: &[Decimal]) -> Result<Decimal, ExprError> {
    let arity = |expected: &'static str, ok: bool| {
        if ok { Ok(()) } else { Err(ExprError::Arity { name: name.to_string(), expected, got: args.len() }) }
    };
    match name {
        "sqrt" => {
            arity("1", args.len() == 1)?;
            if args[0].is_sign_negative() && !args[0].is_zero() {
                return Err(ExprError::Domain("the square root of a negative number is not a real number".into()));
            }
            args[0].sqrt().ok_or(ExprError::Overflow)
        }
        "abs" => {
            arity("1", args.len() == 1)?;
            Ok(args[0].abs())
        }
        "floor" => {
            arity("1", args.len() == 1)?;
            Ok(args[0].floor())
        }
        "ceil" => {
            arity("1", args.len() == 1)?;
            Ok(args[0].ceil())
        }
        "round" => {
            arity("1 or 2", matches!(args.len(), 1 | 2))?;
            let digits = match args.get(1) {
                Some(d) if d.fract().is_zero() && (0..=28).contains(&d.to_i64().unwrap_or(-1)) => {
                    d.to_u32().unwrap_or(0)
                }
                Some(_) => {
                    return Err(ExprError::Domain(
                        "round's second argument is a whole number of digits, 0 to 28".into(),
                    ));
                }
                None => 0,
            };
            Ok(args[0].round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero))
        }
        "min" | "max" => {
            arity("at least 1", !args.is_empty())?;
            let pick = if name == "min" { Decimal::min } else { Decimal::max };
            Ok(args.iter().copied().reduce(pick).expect("non-empty"))
        }
        "ln" | "log10" => {
            arity("1", args.len() == 1)?;
            if args[0] <= Decimal::ZERO {
                return Err(ExprError::Domain(format!("{name} is defined for positive numbers only")));
            }
            if name == "ln" { args[0].checked_ln() } else { args[0].checked_log10() }.ok_or(ExprError::Overflow)
        }
        "exp" => {
            arity("1", args.len() == 1)?;
            args[0].checked_exp().ok_or(ExprError::Overflow)
        }
        _ => Err(ExprError::UnknownName(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(expr: &str) -> String {
        evaluate(expr).unwrap_or_else(|e| panic!("{expr}: {e}")).to_string()
    }

    #[test]
    fn arithmetic_is_exact_and_precedence_is_usual() {
        for (expr, want) in [
            ("0.1 + 0.2", "0.3"),
            ("1 + 2 * 3", "7"),
            ("(1 + 2) * 3", "9"),
            ("10 / 4", "2.5"),
            ("10 % 4", "2"),
            ("-2^2", "-4"),
            ("(-2)^2", "4"),
            ("2^3^2", "512"),
            ("2^-1", "0.5"),
            ("--3", "3"),
            ("1e3 + 2.5E-1", "1000.25"),
            ("sqrt(16)", "4"),
            ("abs(-7.5)", "7.5"),
            ("round(2.5)", "3"),
            ("round(3.14159, 2)", "3.14"),
            ("min(3, 1, 2) + max(4, 9)", "10"),
            ("floor(-1.5) + ceil(1.2)", "0"),
            ("round(pi, 5)", "3.14159"),
            ("round(e, 3)", "2.718"),
            ("round(4^0.5, 10)", "2"),
            ("  7  ", "7"),
        ] {
            assert_eq!(ok(expr), want, "{expr}");
        }
    }

    #[test]
    fn bad_input_gets_a_precise_error() {
        assert_eq!(evaluate(""), Err(ExprError::Empty));
        assert_eq!(evaluate("1 / 0"), Err(ExprError::DivisionByZero));
        assert_eq!(evaluate("5 % 0"), Err(ExprError::DivisionByZero));
        assert_eq!(evaluate("0^-1"), Err(ExprError::DivisionByZero));
        assert_eq!(evaluate("2 $ 3"), Err(ExprError::Unexpected { found: "'$'".into(), pos: 3 }));
        assert_eq!(evaluate("(1 + 2"), Err(ExprError::Expected { expected: "')'", pos: 7 }));
        assert_eq!(evaluate("1 +"), Err(ExprError::Expected { expected: "a number", pos: 4 }));
        assert_eq!(evaluate("foo(1)"), Err(ExprError::UnknownName("foo".into())));
        assert_eq!(evaluate("x + 1"), Err(ExprError::UnknownName("x".into())));
        assert!(matches!(evaluate("sqrt(1, 2)"), Err(ExprError::Arity { .. })));
        assert!(matches!(evaluate("sqrt(-1)"), Err(ExprError::Domain(_))));
        assert!(matches!(evaluate("(-8)^0.5"), Err(ExprError::Domain(_))));
        assert!(matches!(evaluate("ln(0)"), Err(ExprError::Domain(_))));
        assert_eq!(evaluate("10^100"), Err(ExprError::Overflow));
        assert_eq!(evaluate(&"(".repeat(100)), Err(ExprError::TooDeep));
        assert_eq!(evaluate(&"1+".repeat(600)), Err(ExprError::TooLong));
        assert!(matches!(evaluate("1.2.3"), Err(ExprError::Unexpected { .. })));
        // Code is not an expression.
        assert!(evaluate("std::process::exit(1)").is_err());
        assert!(evaluate("__import__('os')").is_err());
    }
}
