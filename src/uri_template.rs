//! Just enough of RFC 6570 URI templates to route a resource read: is a
//! template well formed, and could a URI have been expanded from it?
//!
//! MCP servers publish resource templates (`test://template/{id}/data`);
//! a client expands one and reads the result. The gateway never expands
//! templates itself; it only needs to know which server's template a read
//! belongs to, and to refuse URIs that match none (an uninstalled server's
//! resources look unknown, like its tools). Matching is deliberately
//! generous: a simple `{var}` matches one or more characters other than
//! `/`, `?` and `#`; every operator form (`{+var}`, `{#var}`, `{/var}`,
//! `{?a,b}`, ...) matches any run of characters, possibly empty. The server
//! remains the authority on what a URI means.
//!
//! Templates and URIs come from anyone (a developer deploys the template, a
//! client sends the URI), so matching must cost little whatever they are: a
//! template has at most [`MAX_EXPRESSIONS`] expressions and
//! [`MAX_TEMPLATE`] bytes, a URI at most [`MAX_URI`] bytes, and [`matches`]
//! runs the template as a small automaton over the URI in one pass (time
//! linear in the URI's length times the template's), never backtracking.

/// Most `{expressions}` in one template.
pub const MAX_EXPRESSIONS: usize = 32;
/// Longest template, in bytes.
pub const MAX_TEMPLATE: usize = 512;
/// Longest URI matched against templates, in bytes.
pub const MAX_URI: usize = 4096;

/// One piece of a parsed template.
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Literal(&'a str),
    /// A `{var}` expression: one path-segment-like value.
    Simple,
    /// Any operator expression: any text, possibly empty.
    Any,
}

fn parse(template: &str) -> Option<Vec<Part<'_>>> {
    if template.len() > MAX_TEMPLATE || template.matches('{').count() > MAX_EXPRESSIONS {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let end = rest.find('}')?;
                let body = &rest[1..end];
                let (operator, names) = match body.chars().next()? {
                    c @ ('+' | '#' | '.' | '/' | ';' | '?' | '&') => (Some(c), &body[1..]),
                    _ => (None, body),
                };
                let valid_name = |n: &str| {
                    let n = n.strip_suffix('*').unwrap_or(n);
                    let n = n.split_once(':').map_or(n, |(name, len)| {
                        if len.is_empty() || !len.chars().all(|c| c.is_ascii_digit()) { "" } else { name }
                    });
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%')
                };
                if names.is_empty() || !names.split(',').all(valid_name) {
                    return None;
                }
                parts.push(if operator.is_none() && !names.contains(',') { Part::Simple } else { Part::Any });
                rest = &rest[end + 1..];
            }
            Some(i) => {
                parts.push(Part::Literal(&rest[..i]));
                rest = &rest[i..];
            }
            None => {
                if rest.contains('}') {
                    return None;
                }
                parts.push(Part::Literal(rest));
                rest = "";
            }
        }
    }
    if parts.iter().any(|p| matches!(p, Part::Literal(l) if l.contains('}'))) {
        return None;
    }
    Some(parts)
}

/// Whether `template` is a well-formed URI template.
pub fn is_valid(template: &str) -> bool {
    parse(template).is_some()
}

/// Whether `uri` could be an expansion of `template`.
pub fn matches(template: &str, uri: &str) -> bool {
    uri.len() <= MAX_URI && parse(template).is_some_and(|parts| Automaton::of(&parts).accepts(uri.as_bytes()))
}

/// One step of the automaton a template compiles to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Exactly this byte.
    Byte(u8),
    /// One byte of a `{var}` value: not `/`, `?` or `#`.
    Segment,
    /// Any number of `{var}` bytes (after the first), possibly none.
    MoreSegment,
    /// Any number of any bytes, possibly none.
    Anything,
}

impl Step {
    fn takes(self, b: u8) -> bool {
        match self {
            Step::Byte(x) => x == b,
            Step::Segment | Step::MoreSegment => !matches!(b, b'/' | b'?' | b'#'),
            Step::Anything => true,
        }
    }

    /// A step that may match nothing, and loops on what it takes.
    fn repeats(self) -> bool {
        matches!(self, Step::MoreSegment | Step::Anything)
    }
}

/// A template as a sequence of steps, run as a set of states (the steps
/// reached so far): each URI byte moves every state at once, so the work is
/// the URI's length times the number of steps. (Bytes, not characters: the
/// classes only name ASCII bytes, which never occur inside a multi-byte
/// UTF-8 character.)
struct Automaton {
    steps: Vec<Step>,
}

impl Automaton {
    fn of(parts: &[Part<'_>]) -> Self {
        let mut steps = Vec::new();
        for part in parts {
            match part {
                Part::Literal(l) => steps.extend(l.bytes().map(Step::Byte)),
                Part::Simple => steps.extend([Step::Segment, Step::MoreSegment]),
                Part::Any => steps.push(Step::Anything),
            }
        }
        Self { steps }
    }

    /// Adds state `i` and every state reachable from it without input.
    fn enter(&self, states: &mut [bool], mut i: usize) {
        while i < states.len() && !states[i] {
            states[i] = true;
            if i < self.steps.len() && self.steps[i].repeats() {
                i += 1;
            } else {
                break;
            }
        }
    }

    fn accepts(&self, input: &[u8]) -> bool {
        self.run(input).0
    }

    /// Whether the input is accepted, and the work done (states moved).
    fn run(&self, input: &[u8]) -> (bool, usize) {
        let n = self.steps.len();
        let mut work = 0;
        let (mut now, mut next) = (vec![false; n + 1], vec![false; n + 1]);
        self.enter(&mut now, 0);
        for &b in input {
            next.iter_mut().for_each(|s| *s = false);
            let mut any = false;
            for i in (0..n).filter(|&i| now[i]) {
                work += 1;
                let step = self.steps[i];
                if step.takes(b) {
                    any = true;
                    if step.repeats() {
                        self.enter(&mut next, i);
                    } else {
                        self.enter(&mut next, i + 1);
                    }
                }
            }
            if !any {
                return (false, work);
            }
            std::mem::swap(&mut now, &mut next);
        }
        (now[n], work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_templates() {
        for t in ["test://template/{id}/data", "notes://{id}", "file:///{+path}", "api://x{?q,limit}", "a://{var:3}"] {
            assert!(is_valid(t), "{t}");
        }
        for t in ["a://{", "a://}", "a://{}", "a://{a b}", "a://{x:}"] {
            assert!(!is_valid(t), "{t}");
        }
    }

    #[test]
    fn matching_expansions() {
        let cases = [
            ("test://template/{id}/data", "test://template/42/data", true),
            ("test://template/{id}/data", "test://template//data", false),
            ("test://template/{id}/data", "test://template/4/2/data", false),
            ("test://template/{id}/data", "test://template/42/other", false),
            ("notes://{id}", "notes://abc", true),
            ("notes://{id}", "docs://abc", false),
            ("file:///{+path}", "file:///a/b/c.txt", true),
            ("api://search{?q,limit}", "api://search?q=x&limit=2", true),
            ("api://search{?q,limit}", "api://search", true),
            ("plain://x", "plain://x", true),
            ("plain://x", "plain://xy", false),
            ("a://{x}{y}", "a://ab", true),
            ("a://{x}{y}", "a://a", false),
            ("a://{x}-{y}", "a://é-ü", true),
            ("a://{+p}/end", "a://x/y/end", true),
            ("a://{+p}/end", "a://x/y/ending", false),
        ];
        for (template, uri, expected) in cases {
            assert_eq!(matches(template, uri), expected, "{template} ~ {uri}");
        }
    }

    #[test]
    fn hostile_templates_cost_little() {
        // Twenty `{+a}` and a URI that almost matches: about 10^19 steps for
        // a backtracking matcher; here at most one per URI byte and step.
        let template = format!("x://{}z", "{+a}".repeat(20));
        let uri = format!("x://{}", "a".repeat(4000));
        let automaton = Automaton::of(&parse(&template).unwrap());
        let (accepted, work) = automaton.run(uri.as_bytes());
        assert!(!accepted);
        assert!(work <= uri.len() * (automaton.steps.len() + 1), "{work} states moved");
        assert!(!matches(&template, &uri));
        // Past the caps: refused outright.
        assert!(!is_valid(&format!("x://{}", "{a}".repeat(MAX_EXPRESSIONS + 1))));
        assert!(!matches("x://{+a}", &format!("x://{}", "a".repeat(MAX_URI))));
    }
}
