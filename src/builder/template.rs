//! Templates in builder definitions, and how their values are encoded for
//! where they land.
//!
//! A template is text with references in double braces:
//!
//! - `{{city}}`, `{{place.lat}}`, `{{ids[0]}}`, `{{args.data}}`: the call's
//!   arguments (`args.` names one whose name is a reserved word below);
//! - `{{config.UNITS}}`: a setting of the installing user's own (sealed
//!   with their installation, declared by the definition);
//! - `{{secrets.API_KEY}}`: one of the publisher's sealed secrets (only in
//!   requests: a mapping can never show one);
//! - `{{data.main.temp}}`: the last HTTP step's response, and
//!   `{{steps.ID.x}}` any earlier step's result.
//!
//! Rendering never pastes text into a syntax: a path segment is
//! percent-encoded whole (`/`, `?`, `#` and `%` included), a query value is
//! form-encoded by the URL library, a header value refuses line breaks and
//! control characters, and a JSON body takes the value itself (a number stays
//! a number, an object an object). A reference to an argument the caller
//! left out omits the query parameter, header or body field it alone fills;
//! anywhere else it is an error that names the argument.

use std::{borrow::Cow, collections::HashMap, fmt};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

/// Longest template accepted (bytes).
pub const MAX_TEMPLATE: usize = 8 * 1024;
/// Most references in one template.
const MAX_REFERENCES: usize = 64;

/// Words that start a reference to something other than an argument.
pub const RESERVED: [&str; 5] = ["args", "config", "secrets", "data", "steps"];

/// Everything but RFC 3986's unreserved characters, for one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What a reference starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Arg(String),
    Config(String),
    Secret(String),
    /// The last HTTP step's response.
    Data,
    Step(String),
}

/// One step into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `{{root.path[0].x}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub root: Root,
    pub path: Vec<Seg>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Root::Arg(n) => write!(f, "argument {n}")?,
            Root::Config(n) => write!(f, "setting config.{n}")?,
            Root::Secret(n) => write!(f, "secret secrets.{n}")?,
            Root::Data => write!(f, "data")?,
            Root::Step(n) => write!(f, "steps.{n}")?,
        }
        for seg in &self.path {
            match seg {
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Ref(Reference),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

/// Why a template could not be rendered; the message is the tool error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("missing argument: {0}")]
    MissingArgument(String),
    #[error("{0}")]
    Invalid(String),
}

fn valid_word(w: &str) -> bool {
    !w.is_empty() && w.len() <= 128 && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_reference(expr: &str) -> Result<Reference, String> {
    let expr = expr.trim();
    let bad = || format!("{{{{{expr}}}}} is not a reference: use names such as city, place.lat or ids[0]");
    let mut segs = Vec::new();
    let mut rest = expr;
    let mut first = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (digits, tail) = after.split_once(']').ok_or_else(bad)?;
            let index = digits.parse::<usize>().map_err(|_| bad())?;
            segs.push(Seg::Index(index));
            rest = tail;
        } else {
            let word_part = if first { rest } else { rest.strip_prefix('.').ok_or_else(bad)? };
            let end = word_part.find(['.', '[']).unwrap_or(word_part.len());
            let word = &word_part[..end];
            if !valid_word(word) {
                return Err(bad());
            }
            segs.push(Seg::Key(word.to_string()));
            rest = &word_part[end..];
        }
        first = false;
    }
    let mut segs = segs.into_iter();
    let Some(Seg::Key(head)) = segs.next() else { return Err(bad()) };
    let mut named = |what: &str| match segs.next() {
        Some(Seg::Key(name)) => Ok(name),
        _ => Err(format!("{{{{{expr}}}}}: {head}. must be followed by the {what}'s name")),
    };
    let root = match head.as_str() {
        "args" => Root::Arg(named("argument")?),
        "config" => Root::Config(named("setting")?),
        "secrets" => Root::Secret(named("secret")?),
        "steps" => Root::Step(named("step")?),
        "data" => Root::Data,
        _ => Root::Arg(head.clone()),
    };
    let path: Vec<Seg> = segs.collect();
    if matches!(root, Root::Secret(_) | Root::Config(_)) && !path.is_empty() {
        return Err(format!("{{{{{expr}}}}}: a setting or secret is a single value"));
    }
    Ok(Reference { root, path })
}

impl Template {
    /// Parses `text`; an error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_TEMPLATE {
            return Err(format!("a template has at most {MAX_TEMPLATE} bytes"));
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| format!("\"{text}\" opens {{{{ without closing it"))?;
            pieces.push(Piece::Ref(parse_reference(&after[..end])?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        if pieces.iter().filter(|p| matches!(p, Piece::Ref(_))).count() > MAX_REFERENCES {
            return Err(format!("a template has at most {MAX_REFERENCES} references"));
        }
        Ok(Self { pieces })
    }

    /// The reference, when the template is exactly one and nothing else.
    pub fn single(&self) -> Option<&Reference> {
        match self.pieces.as_slice() {
            [Piece::Ref(r)] => Some(r),
            _ => None,
        }
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
    }

    /// Whether it has no reference at all.
    pub fn is_literal(&self) -> bool {
        self.references().next().is_none()
    }
}

/// What references resolve against during one call.
#[derive(Default)]
pub struct Scope<'a> {
    pub args: Option<&'a Map<String, Value>>,
    pub config: Option<&'a Map<String, Value>>,
    pub secrets: Option<&'a HashMap<String, String>>,
    pub data: Option<&'a Value>,
    pub steps: Option<&'a HashMap<String, Value>>,
}

fn walk<'v>(mut value: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    for seg in path {
        value = match seg {
            Seg::Key(k) => value.as_object()?.get(k)?,
            Seg::Index(i) => value.as_array()?.get(*i)?,
        };
    }
    Some(value)
}

impl Scope<'_> {
    /// The value a reference names, or `None` when there is none.
    pub fn lookup(&self, r: &Reference) -> Option<Cow<'_, Value>> {
        match &r.root {
            Root::Arg(name) => walk(self.args?.get(name)?, &r.path).map(Cow::Borrowed),
            Root::Config(name) => self.config?.get(name).filter(|v| !v.is_null()).map(Cow::Borrowed),
            Root::Secret(name) => self.secrets?.get(name).map(|s| Cow::Owned(Value::String(s.clone()))),
            Root::Data => walk(self.data?, &r.path).map(Cow::Borrowed),
            Root::Step(id) => walk(self.steps?.get(id)?, &r.path).map(Cow::Borrowed),
        }
    }

    /// Like [`Scope::lookup`], but an absent value is the error the caller
    /// is shown.
    fn require(&self, r: &Reference) -> Result<Cow<'_, Value>, RenderError> {
        self.lookup(r).ok_or_else(|| match &r.root {
            Root::Arg(_) => RenderError::MissingArgument(r.to_string().trim_start_matches("argument ").to_string()),
            Root::Config(name) => RenderError::Invalid(format!(
                "this server needs the setting {name}: set it in the installation's configuration"
            )),
            Root::Secret(name) => {
                RenderError::Invalid(format!("the publisher has not set the secret {name}; ask them to set it"))
            }
            Root::Data | Root::Step(_) => RenderError::Invalid(format!("{r} is not in the response")),
        })
    }
}

/// Where a rendered value lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// One segment of a URL path: percent-encoded whole.
    PathSegment,
    /// A query parameter's value (the URL library form-encodes it).
    Query,
    /// A header value: no line breaks or control characters.
    Header,
    /// Text inside a JSON string or a mapping: anything, as text.
    Text,
}

impl Context {
    fn describe(self) -> &'static str {
        match self {
            Context::PathSegment => "a URL path",
            Context::Query => "a query parameter",
            Context::Header => "a header",
            Context::Text => "text",
        }
    }
}

/// A value as text for `context`: a string as it is, a number or boolean
/// as JSON writes it; an object or array only as JSON text.
fn as_text(value: &Value, r: &Reference, context: Context) -> Result<String, RenderError> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(_) | Value::Object(_) if context == Context::Text => value.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return Err(RenderError::Invalid(format!(
                "{r} is {} and cannot be put in {}",
                if value.is_array() { "a list" } else { "an object" },
                context.describe()
            )));
        }
    })
}

/// Renders a template as text for `context`.
pub fn render_text(t: &Template, scope: &Scope, context: Context) -> Result<String, RenderError> {
    let mut out = String::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Ref(r) => {
                let value = scope.require(r)?;
                let text = as_text(&value, r, context)?;
                match context {
                    Context::PathSegment => out.extend(utf8_percent_encode(&text, SEGMENT)),
                    Context::Header if text.chars().any(|c| (c.is_control() && c != '\t') || c == '\u{7f}') => {
                        return Err(RenderError::Invalid(format!(
                            "{r} contains a line break or control character and cannot be put in a header"
                        )));
                    }
                    _ => out.push_str(&text),
                }
            }
        }
    }
    Ok(out)
}

/// Renders a template that may be omitted: `None` when it is exactly one
/// reference to an argument the caller left out (or set to null).
pub fn render_optional(t: &Template, scope: &Scope, context: Context) -> Result<Option<String>, RenderError> {
    if let Some(r @ Reference { root: Root::Arg(_), .. }) = t.single() {
        match scope.lookup(r) {
            None => return Ok(None),
            Some(v) if v.is_null() => return Ok(None),
            Some(_) => {}
        }
    }
    render_text(t, scope, context).map(Some)
}

/// The values of a query parameter: a list gives one pair per item (each a
/// string, number or boolean); `[]` or an omitted argument gives none.
pub fn render_query(t: &Template, scope: &Scope) -> Result<Vec<String>, RenderError> {
    if let Some(r @ Reference { root: Root::Arg(_), .. }) = t.single()
        && let Some(Value::Array(items)) = scope.lookup(r).as_deref()
    {
        return items.iter().map(|item| as_text(item, r, Context::Query)).collect();
    }
    Ok(render_optional(t, scope, Context::Query)?.into_iter().collect())
}

/// A JSON template rendered: a string that is exactly one reference takes
/// the referenced value itself (typed); other strings are text with values
/// put in; object keys are never templated. A field or item whose single
/// reference is an omitted argument is left out.
pub fn render_json(template: &Value, scope: &Scope) -> Result<Option<Value>, RenderError> {
    Ok(match template {
        Value::String(s) if s.contains("{{") => {
            let t = Template::parse(s).map_err(RenderError::Invalid)?;
            match t.single() {
                Some(r @ Reference { root: Root::Arg(_), .. }) => scope.lookup(r).map(Cow::into_owned),
                Some(r) => Some(scope.require(r)?.into_owned()),
                None => Some(Value::String(render_text(&t, scope, Context::Text)?)),
            }
        }
        Value::Object(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (k, v) in fields {
                if let Some(v) = render_json(v, scope)? {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                out.extend(render_json(v, scope)?);
            }
            Some(Value::Array(out))
        }
        other => Some(other.clone()),
    })
}

/// Every template inside a JSON template, parsed (for validation).
pub fn json_templates(template: &Value) -> Result<Vec<Template>, String> {
    let mut out = Vec::new();
    fn visit(v: &Value, out: &mut Vec<Template>) -> Result<(), String> {
        match v {
            Value::String(s) if s.contains("{{") => out.push(Template::parse(s)?),
            Value::Object(m) => m.values().try_for_each(|v| visit(v, out))?,
            Value::Array(a) => a.iter().try_for_each(|v| visit(v, out))?,
            _ => {}
        }
        Ok(())
    }
    visit(template, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn text(t: &str, scope: &Scope, context: Context) -> Result<String, RenderError> {
        render_text(&Template::parse(t).unwrap(), scope, context)
    }

    #[test]
    fn references_parse_into_roots_and_paths() {
        let t = Template::parse("{{ data.weather[0].main }} in {{city}}").unwrap();
        let refs: Vec<_> = t.references().cloned().collect();
        assert_eq!(
            refs[0],
            Reference {
                root: Root::Data,
                path: vec![Seg::Key("weather".into()), Seg::Index(0), Seg::Key("main".into())]
            }
        );
        assert_eq!(refs[1], Reference { root: Root::Arg("city".into()), path: vec![] });
        let r = |s: &str| Template::parse(s).unwrap().single().cloned().unwrap();
        assert_eq!(r("{{args.data}}").root, Root::Arg("data".into()));
        assert_eq!(r("{{config.UNITS}}").root, Root::Config("UNITS".into()));
        assert_eq!(r("{{secrets.KEY}}").root, Root::Secret("KEY".into()));
        assert_eq!(r("{{steps.geo.results[0]}}").root, Root::Step("geo".into()));
        for bad in ["{{}}", "{{a b}}", "{{a..b}}", "{{a[x]}}", "{{secrets}}", "{{secrets.K.x}}", "{{open", "{{a/b}}"] {
            assert!(Template::parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(Template::parse("plain }} text").unwrap().is_literal());
    }

    #[test]
    fn path_segments_are_encoded_whole() {
        let a = args(json!({"id": "../admin?x=1#frag", "n": 5, "pct": "100%", "sp": "a b/c"}));
        let scope = Scope { args: Some(&a), ..Default::default() };
        assert_eq!(text("{{id}}", &scope, Context::PathSegment).unwrap(), "..%2Fadmin%3Fx%3D1%23frag");
        assert_eq!(text("v{{n}}", &scope, Context::PathSegment).unwrap(), "v5");
        assert_eq!(text("{{pct}}", &scope, Context::PathSegment).unwrap(), "100%25");
        assert_eq!(text("{{sp}}", &scope, Context::PathSegment).unwrap(), "a%20b%2Fc");
        let obj = args(json!({"o": {"a": 1}}));
        let scope = Scope { args: Some(&obj), ..Default::default() };
        let err = text("{{o}}", &scope, Context::PathSegment).unwrap_err();
        assert_eq!(err.to_string(), "argument o is an object and cannot be put in a URL path");
    }

    #[test]
    fn headers_refuse_line_breaks() {
        let a = args(json!({"v": "ok\r\nX-Injected: 1", "t": "a\tb", "nul": "a\u{0}b"}));
        let scope = Scope { args: Some(&a), ..Default::default() };
        let err = text("Bearer {{v}}", &scope, Context::Header).unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
        assert!(text("{{nul}}", &scope, Context::Header).is_err());
        assert_eq!(text("{{t}}", &scope, Context::Header).unwrap(), "a\tb");
    }

    #[test]
    fn missing_arguments_are_named_or_omitted() {
        let a = args(json!({"city": "Oslo", "nothing": null}));
        let scope = Scope { args: Some(&a), ..Default::default() };
        let err = text("{{country}}/{{city}}", &scope, Context::PathSegment).unwrap_err();
        assert_eq!(err, RenderError::MissingArgument("country".into()));
        assert_eq!(err.to_string(), "missing argument: country");
        let nested = text("{{place.lat}}", &scope, Context::Text).unwrap_err();
        assert_eq!(nested.to_string(), "missing argument: place.lat");
        let t = Template::parse("{{country}}").unwrap();
        assert_eq!(render_optional(&t, &scope, Context::Query).unwrap(), None);
        let t = Template::parse("{{nothing}}").unwrap();
        assert_eq!(render_optional(&t, &scope, Context::Query).unwrap(), None);
        // Text around it: the argument is needed.
        let t = Template::parse("in {{country}}").unwrap();
        assert!(render_optional(&t, &scope, Context::Query).is_err());
        let no_config = text("{{config.UNITS}}", &scope, Context::Query).unwrap_err();
        assert!(no_config.to_string().contains("setting UNITS"), "{no_config}");
    }

    #[test]
    fn query_values_take_lists_as_repeated_parameters() {
        let a = args(json!({"ids": [1, "b", true], "deep": [[1]]}));
        let scope = Scope { args: Some(&a), ..Default::default() };
        assert_eq!(render_query(&Template::parse("{{ids}}").unwrap(), &scope).unwrap(), vec!["1", "b", "true"]);
        assert!(render_query(&Template::parse("{{deep}}").unwrap(), &scope).is_err());
    }

    #[test]
    fn json_bodies_are_typed_never_pasted() {
        let a = args(json!({
            "n": 42, "obj": {"a": [1, 2]}, "s": "\", \"admin\": true, \"x\": \"", "flag": false
        }));
        let secrets = HashMap::from([("KEY".to_string(), "sk-1".to_string())]);
        let scope = Scope { args: Some(&a), secrets: Some(&secrets), ..Default::default() };
        let body = json!({
            "count": "{{n}}", "filter": "{{obj}}", "name": "{{s}}", "label": "n={{n}}",
            "absent": "{{missing}}", "list": ["{{flag}}", "{{missing}}"], "key": "{{secrets.KEY}}",
            "{{n}}": "keys are literal"
        });
        let out = render_json(&body, &scope).unwrap().unwrap();
        assert_eq!(
            out,
            json!({
                "count": 42, "filter": {"a": [1, 2]}, "name": "\", \"admin\": true, \"x\": \"",
                "label": "n=42", "list": [false], "key": "sk-1", "{{n}}": "keys are literal"
            })
        );
        assert!(out.get("admin").is_none(), "a string stays one string");
        let unset = json!({"key": "{{secrets.OTHER}}"});
        let err = render_json(&unset, &scope).unwrap_err();
        assert!(err.to_string().contains("secret OTHER"), "{err}");
    }
}
