//! Public names: how a user's tools, prompts and resources are named when
//! many servers share one endpoint, and back.
//!
//! - Tools and prompts are `{slug}.{name}`: `.` never occurs in a slug or a
//!   tool name, so the split is unambiguous, and both halves are within
//!   MCP's name rules. A name that would pass 64 characters is cut and
//!   given a short hash of the full name, so it stays unique and stable.
//!   Key scopes list tools by this name.
//! - Resources are `omnimcp://{slug}/{original URI, percent-encoded}`:
//!   reversible, and a valid URI whatever the original looks like.
//!   Templates keep their `{expressions}`, so a client expands them as
//!   usual and the read decodes to what the server's own template gives.
//! - Skills' files (SEP-2640, `skill://<skill-path>/...`) stay `skill://`
//!   URIs, with the slug as the first path segment:
//!   `skill://{slug}/{skill-path}/...`. A client recognises a skill by its
//!   scheme and checks that a skill's files lie under its directory and
//!   that the segment before `SKILL.md` is the skill's name; this form
//!   keeps all three, where the encoded form would hide them.
//! - [`Naming::Bare`]: a key scoped to one installation may ask for the
//!   server's own names, unchanged (`"unprefixed": true`).

use sha2::{Digest, Sha256};

/// Separates a server's slug from its tool's name.
pub const SEPARATOR: char = '.';
/// MCP's limit on tool names.
const MAX_NAME: usize = 64;

/// The public name of a server's tool or prompt.
pub fn public_name(slug: &str, tool: &str) -> String {
    let full = format!("{slug}{SEPARATOR}{tool}");
    if full.len() <= MAX_NAME {
        return full;
    }
    let hash: String = Sha256::digest(full.as_bytes())[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", &full[..MAX_NAME - 9])
}

/// Bytes kept as they are in the encoded part of a public URI; the rest
/// (including `/`, `:`, `?`, `&`, `%` and braces) is percent-encoded.
const URI_KEEP: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URI_KEEP).to_string()
}

/// The scheme of skills' files (SEP-2640).
const SKILL_SCHEME: &str = "skill://";

/// A resource's public URI.
pub fn public_uri(slug: &str, uri: &str) -> String {
    match uri.strip_prefix(SKILL_SCHEME) {
        Some(path) => format!("{SKILL_SCHEME}{slug}/{path}"),
        None => format!("omnimcp://{slug}/{}", encode(uri)),
    }
}

/// A resource template's public form: the literal text encoded as in
/// [`public_uri`], the `{expressions}` left for the client to expand. The
/// expansion then decodes (in [`parse_public_uri`]) to the URI the server's
/// own template would have produced; values the client percent-encodes
/// arrive decoded once, which is what the server would have seen had the
/// client expanded its template directly and the server decoded it.
pub fn public_uri_template(slug: &str, template: &str) -> String {
    if template.starts_with(SKILL_SCHEME) {
        return public_uri(slug, template);
    }
    let mut out = format!("omnimcp://{slug}/");
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&encode(&rest[..open]));
        out.push_str(&rest[open..open + close + 1]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(&encode(rest));
    out
}

/// `(slug, original URI)` from a public URI.
pub fn parse_public_uri(public: &str) -> Option<(&str, String)> {
    if let Some(rest) = public.strip_prefix(SKILL_SCHEME) {
        let (slug, path) = rest.split_once('/')?;
        return Some((slug, format!("{SKILL_SCHEME}{path}")));
    }
    let rest = public.strip_prefix("omnimcp://")?;
    let (slug, encoded) = rest.split_once('/')?;
    let uri = percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?.into_owned();
    Some((slug, uri))
}

/// How a caller sees names: prefixed (the default), or, for an API key
/// scoped to one installation with `"unprefixed": true`, the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    Prefixed,
    Bare,
}

impl Naming {
    /// A tool's or a prompt's name.
    pub fn name(self, slug: &str, name: &str) -> String {
        match self {
            Naming::Prefixed => public_name(slug, name),
            Naming::Bare => name.to_string(),
        }
    }

    /// A resource's display name.
    pub fn resource_name(self, slug: &str, name: &str) -> String {
        match self {
            Naming::Prefixed => format!("{slug}{SEPARATOR}{name}"),
            Naming::Bare => name.to_string(),
        }
    }

    pub fn uri(self, slug: &str, uri: &str) -> String {
        match self {
            Naming::Prefixed => public_uri(slug, uri),
            Naming::Bare => uri.to_string(),
        }
    }

    pub fn template(self, slug: &str, template: &str) -> String {
        match self {
            Naming::Prefixed => public_uri_template(slug, template),
            Naming::Bare => template.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_short_and_stable() {
        assert_eq!(public_name("github", "list_repos"), "github.list_repos");
        let long = public_name(&"s".repeat(40), &"t".repeat(40));
        assert_eq!(long.len(), 64);
        assert_eq!(long, public_name(&"s".repeat(40), &"t".repeat(40)));
        assert_ne!(long, public_name(&"s".repeat(40), &format!("{}u", "t".repeat(39))));
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)));
    }

    #[test]
    fn template_expansions_decode_to_the_servers_uri() {
        let public = public_uri_template("fx", "test://template/{id}/data");
        assert_eq!(public, "omnimcp://fx/test%3A%2F%2Ftemplate%2F{id}%2Fdata");
        let expanded = public.replace("{id}", "42");
        assert_eq!(parse_public_uri(&expanded), Some(("fx", "test://template/42/data".into())));
        let query = public_uri_template("fx", "api://search{?q,limit}").replace("{?q,limit}", "?q=a%20b&limit=2");
        assert_eq!(parse_public_uri(&query), Some(("fx", "api://search?q=a b&limit=2".into())));
    }

    #[test]
    fn resource_uris_round_trip() {
        for uri in ["docs://readme", "file:///tmp/a b+c.txt", "test://template/{id}/data?x=1&y=%2F"] {
            let public = public_uri("my-server", uri);
            assert!(public.starts_with("omnimcp://my-server/"));
            assert_eq!(parse_public_uri(&public), Some(("my-server", uri.to_string())));
        }
        assert_eq!(parse_public_uri("docs://readme"), None);
    }

    #[test]
    fn skill_files_keep_their_scheme_and_path() {
        let public = public_uri("fx", "skill://acme/code-review/SKILL.md");
        assert_eq!(public, "skill://fx/acme/code-review/SKILL.md");
        assert_eq!(parse_public_uri(&public), Some(("fx", "skill://acme/code-review/SKILL.md".into())));
        let dir = public_uri("fx", "skill://acme/code-review");
        assert_eq!(parse_public_uri(&dir), Some(("fx", "skill://acme/code-review".into())));
        assert_eq!(parse_public_uri("skill://no-path"), None);
    }
}
