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
    parse(template).is_some_and(|parts| match_parts(&parts, uri))
}

fn match_parts(parts: &[Part<'_>], uri: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else { return uri.is_empty() };
    match first {
        Part::Literal(l) => uri.strip_prefix(l).is_some_and(|u| match_parts(rest, u)),
        Part::Simple => {
            let limit = uri.find(['/', '?', '#']).unwrap_or(uri.len());
            (1..=limit).rev().filter(|&n| uri.is_char_boundary(n)).any(|n| match_parts(rest, &uri[n..]))
        }
        Part::Any => (0..=uri.len()).rev().filter(|&n| uri.is_char_boundary(n)).any(|n| match_parts(rest, &uri[n..])),
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
        ];
        for (template, uri, expected) in cases {
            assert_eq!(matches(template, uri), expected, "{template} ~ {uri}");
        }
    }
}
