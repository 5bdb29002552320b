//! Running a builder tool: its steps in order, each HTTP request through
//! the SSRF guard (never following a redirect: a publisher's secret goes
//! only to the host the definition names), then the Return mapping.
//!
//! The same run serves a call through `/mcp` and the editor's Test button;
//! the latter also gets each exchange as it happened ([`Exchange`]), with
//! every secret value masked.

use std::{collections::HashMap, time::Instant};

use base64::Engine;
use reqwest::{
    Url,
    header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT},
};
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{
    definition::{CompiledStep, CompiledTool, HttpStep},
    template::{Context, RenderError, Scope, render_json, render_optional, render_query, render_text},
};
use crate::outbound::{Outbound, OutboundError};

/// Longest excerpt of a failed response shown in a tool error.
const ERROR_EXCERPT: usize = 300;
/// Longest raw response kept for the Test panel.
const RAW_EXCERPT: usize = 64 * 1024;
/// What secret values read as in test output.
pub const MASK: &str = "••••••";

/// What a call runs with.
pub struct Inputs<'a> {
    pub args: &'a Map<String, Value>,
    pub config: &'a Map<String, Value>,
    pub secrets: &'a HashMap<String, String>,
    /// Setting names whose values are secret (masked like secrets).
    pub secret_settings: &'a std::collections::HashSet<String>,
}

/// One request as sent and what came back, for the Test panel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    pub step: String,
    pub method: String,
    /// The URL as sent, secret values masked.
    pub url: String,
    /// Headers as sent, secret values masked.
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The response parsed (JSON), or its text, or a note for binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
}

/// A finished run.
pub struct Run {
    pub result: CallToolResult,
    pub exchanges: Vec<Exchange>,
}

/// A response body as the mapping sees it.
enum Body {
    Json(Value),
    Text(String),
    Binary { bytes: Vec<u8>, mime: String },
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.to_ascii_lowercase())
}

fn classify(mime: Option<&str>, bytes: Vec<u8>) -> Result<Body, String> {
    let essence = mime.map(|m| m.split(';').next().unwrap_or("").trim().to_string()).unwrap_or_default();
    let jsonish = essence == "application/json" || essence.ends_with("+json");
    let textual = essence.starts_with("text/")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/xml" | "application/javascript" | "application/x-www-form-urlencoded"
        );
    if jsonish {
        return serde_json::from_slice(&bytes)
            .map(Body::Json)
            .map_err(|e| format!("the API said its answer is JSON, but it is not: {e}"));
    }
    if textual || essence.is_empty() {
        return match String::from_utf8(bytes) {
            // Without a content type, JSON is still read as JSON.
            Ok(text) if essence.is_empty() => {
                Ok(serde_json::from_str(&text).map(Body::Json).unwrap_or(Body::Text(text)))
            }
            Ok(text) => Ok(Body::Text(text)),
            Err(e) => Ok(Body::Binary { bytes: e.into_bytes(), mime: "application/octet-stream".into() }),
        };
    }
    Ok(Body::Binary { bytes, mime: essence })
}

impl Body {
    /// The value `{{data}}` and JSONPath read.
    fn as_data(&self) -> Value {
        match self {
            Body::Json(v) => v.clone(),
            Body::Text(t) => Value::String(t.clone()),
            Body::Binary { bytes, mime } => json!({"mimeType": mime, "size": bytes.len()}),
        }
    }
}

/// Every secret value of a call (the publisher's secrets and the user's
/// secret settings), in each form it may take in a request: as is,
/// form-encoded and percent-encoded.
struct Mask {
    forms: Vec<String>,
}

impl Mask {
    fn of(inputs: &Inputs) -> Self {
        let mut values: Vec<&str> = inputs.secrets.values().map(String::as_str).collect();
        values.extend(inputs.secret_settings.iter().filter_map(|n| inputs.config.get(n).and_then(Value::as_str)));
        values.retain(|v| v.len() >= 3);
        let mut forms = Vec::new();
        for v in values {
            forms.push(url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>());
            forms.push(percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string());
            forms.push(v.to_string());
        }
        // Longest first, so a secret inside another is not half-masked.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Self { forms }
    }

    /// The text with every secret replaced by [`MASK`].
    fn text(&self, text: &str) -> String {
        self.forms.iter().fold(text.to_string(), |t, f| t.replace(f.as_str(), MASK))
    }

    /// Masks every string inside a JSON value.
    fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) if self.forms.iter().any(|f| s.contains(f.as_str())) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(fields) => fields.values_mut().for_each(|v| self.value(v)),
            _ => {}
        }
    }

    /// A tool result with no secret in it: an API that echoes its request
    /// (an error page quoting the URL) must not hand the publisher's key
    /// to the caller.
    fn result(&self, result: CallToolResult) -> CallToolResult {
        if self.forms.is_empty() {
            return result;
        }
        let Ok(mut value) = serde_json::to_value(&result) else { return result };
        self.value(&mut value);
        serde_json::from_value(value).unwrap_or(result)
    }
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// The URL of an HTTP step for these inputs. The origin is the
/// definition's; only the path and the query are rendered, each value
/// encoded for where it lands.
fn build_url(step: &HttpStep, scope: &Scope) -> Result<Url, RenderError> {
    let mut path = String::new();
    for seg in &step.path {
        let rendered = render_text(seg, scope, Context::PathSegment)?;
        // `%2e` is a dot to URL parsers: a value may not make a segment
        // that climbs.
        let decoded = rendered.to_ascii_lowercase().replace("%2e", ".");
        if !seg.is_literal() && (decoded == "." || decoded == "..") {
            return Err(RenderError::Invalid("a value cannot be . or .. in a URL path".into()));
        }
        path.push('/');
        path.push_str(&rendered);
    }
    let mut url = step.origin.clone();
    url.set_path(if path.is_empty() { "/" } else { &path });
    let mut pairs = Vec::new();
    for (name, t) in &step.query {
        for value in render_query(t, scope)? {
            pairs.push((name, value));
        }
    }
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    // Whatever the values were, the request goes where the definition says.
    if url.origin() != step.origin.origin() {
        return Err(RenderError::Invalid("the values would change the URL's host".into()));
    }
    Ok(url)
}

/// What one HTTP step sends.
struct Prepared {
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

fn prepare(step: &HttpStep, scope: &Scope) -> Result<Prepared, RenderError> {
    let url = build_url(step, scope)?;
    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static(concat!("OmniMCP-Builder/", env!("CARGO_PKG_VERSION"))));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json, text/*;q=0.9, */*;q=0.5"));
    for (name, t) in &step.headers {
        if let Some(value) = render_optional(t, scope, Context::Header)? {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| RenderError::Invalid(format!("the value of header {name} is not valid in a header")))?;
            headers.insert(name.clone(), value);
        }
    }
    let body = match &step.body {
        None => None,
        Some(template) => {
            let value = render_json(template, scope)?.unwrap_or(Value::Null);
            if step.form {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in value.as_object().into_iter().flatten() {
                    match v {
                        Value::String(s) => form.append_pair(k, s),
                        Value::Null => continue,
                        other => form.append_pair(k, &other.to_string()),
                    };
                }
                headers.entry(CONTENT_TYPE).or_insert(HeaderValue::from_static("application/x-www-form-urlencoded"));
                Some(form.finish().into_bytes())
            } else {
                headers.entry(CONTENT_TYPE).or_insert(HeaderValue::from_static("application/json"));
                Some(serde_json::to_vec(&value).expect("JSON serializes"))
            }
        }
    };
    Ok(Prepared { url, headers, body })
}

fn excerpt(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// Sends one prepared request and reads the answer: the exchange as the
/// Test panel shows it, and the body or the tool error's message.
async fn send(
    outbound: &Outbound,
    http: &HttpStep,
    prepared: Prepared,
    mask: &Mask,
) -> (Exchange, Result<Body, String>) {
    let mut exchange = Exchange {
        step: http.id.clone(),
        method: http.method.to_string(),
        url: mask.text(prepared.url.as_str()),
        headers: prepared
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), mask.text(&String::from_utf8_lossy(v.as_bytes()))))
            .collect(),
        body: prepared.body.as_deref().map(|b| mask.text(&String::from_utf8_lossy(b))),
        status: None,
        elapsed_ms: 0,
        content_type: None,
        response: None,
    };
    let started = Instant::now();
    let sent = outbound
        .send_without_redirects(http.method.clone(), prepared.url.as_str(), prepared.headers, prepared.body)
        .await;
    exchange.elapsed_ms = started.elapsed().as_millis() as u64;
    let host = http.origin.host_str().unwrap_or("the API").to_string();
    let response = match sent {
        Ok(r) => r,
        Err(OutboundError::Timeout(_)) => return (exchange, Err(format!("{host} did not answer in time"))),
        Err(OutboundError::TooLarge { limit }) => {
            return (exchange, Err(format!("{host} answered with more than {limit} bytes")));
        }
        Err(other) => return (exchange, Err(format!("{host} could not be reached: {other}"))),
    };
    let status = response.status;
    exchange.status = Some(status.as_u16());
    exchange.content_type = content_type(&response.headers);
    if !status.is_success() {
        exchange.response = Some(Value::String(mask.text(&excerpt(&response.body, RAW_EXCERPT))));
        let why = if status.is_redirection() {
            let to = response.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("elsewhere");
            format!(" (to {}; builder requests never follow redirects)", mask.text(to))
        } else {
            String::new()
        };
        let shown = mask.text(&excerpt(&response.body, ERROR_EXCERPT));
        let message = if shown.is_empty() {
            format!("HTTP {status} from {host}{why}")
        } else {
            format!("HTTP {status} from {host}{why}: {shown}")
        };
        return (exchange, Err(message));
    }
    match classify(exchange.content_type.as_deref(), response.body) {
        Ok(body) => {
            exchange.response = Some(match &body {
                Body::Json(v) => {
                    let text = v.to_string();
                    let mut shown = if text.len() <= RAW_EXCERPT {
                        v.clone()
                    } else {
                        Value::String(excerpt(text.as_bytes(), RAW_EXCERPT))
                    };
                    mask.value(&mut shown);
                    shown
                }
                Body::Text(t) => Value::String(mask.text(&excerpt(t.as_bytes(), RAW_EXCERPT))),
                Body::Binary { .. } => body.as_data(),
            });
            (exchange, Ok(body))
        }
        Err(e) => (exchange, Err(format!("{host}: {e}"))),
    }
}

/// What templates read at one point of a run.
fn scope_of<'a>(inputs: &'a Inputs<'a>, data: Option<&'a Value>, steps: &'a HashMap<String, Value>) -> Scope<'a> {
    Scope {
        args: Some(inputs.args),
        config: Some(inputs.config),
        secrets: Some(inputs.secrets),
        data,
        steps: Some(steps),
    }
}

/// Runs a tool. Every failure is the tool's own error (`isError`), worded
/// for the caller; nothing here is a protocol error.
pub async fn run(outbound: &Outbound, tool: &CompiledTool, inputs: &Inputs<'_>) -> Run {
    let mask = Mask::of(inputs);
    let mut exchanges = Vec::new();
    // Each step's result by id, the last HTTP response as parsed, and what
    // `{{data}}` reads.
    let mut steps: HashMap<String, Value> = HashMap::new();
    let mut last: Option<Body> = None;
    let mut last_data: Option<Value> = None;
    for step in &tool.steps {
        let scope = scope_of(inputs, last_data.as_ref(), &steps);
        match step {
            CompiledStep::Transform { id, mapping } => {
                let value = mapping.apply(&scope);
                steps.insert(id.clone(), value);
            }
            CompiledStep::Http(http) => {
                let prepared = match prepare(http, &scope) {
                    Ok(p) => p,
                    Err(e) => return Run { result: mask.result(tool_error(e.to_string())), exchanges },
                };
                let (exchange, answer) = send(outbound, http, prepared, &mask).await;
                exchanges.push(exchange);
                let body = match answer {
                    Ok(body) => body,
                    Err(message) => return Run { result: mask.result(tool_error(message)), exchanges },
                };
                let data = body.as_data();
                steps.insert(http.id.clone(), data.clone());
                last_data = Some(data);
                last = Some(body);
            }
        }
    }
    let scope = scope_of(inputs, last_data.as_ref(), &steps);
    let result = match (&tool.mapping, last) {
        (Some(mapping), _) => CallToolResult::structured(mapping.apply(&scope)),
        (None, Some(Body::Json(Value::Object(o)))) => CallToolResult::structured(Value::Object(o)),
        (None, Some(Body::Json(v))) => CallToolResult::success(vec![ContentBlock::text(v.to_string())]),
        (None, Some(Body::Text(t))) => CallToolResult::success(vec![ContentBlock::text(t)]),
        (None, Some(Body::Binary { bytes, mime })) => {
            let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let block = if mime.starts_with("image/") {
                ContentBlock::image(data, mime)
            } else if mime.starts_with("audio/") {
                ContentBlock::audio(data, mime)
            } else {
                ContentBlock::resource(ResourceContents::blob(data, "builder://response").with_mime_type(mime))
            };
            CallToolResult::success(vec![block])
        }
        (None, None) => tool_error("the tool made no request"),
    };
    Run { result: mask.result(result), exchanges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::definition::Definition;

    fn step(url: &str) -> HttpStep {
        let d = Definition::from_json(&json!({"tools": [{
            "name": "t",
            "inputSchema": {"type": "object"},
            "action": {"type": "http_request", "config": {"url": url}}
        }]}));
        // The schema declares no properties: compile a copy that does.
        let mut d = d.unwrap();
        d.tools[0].input_schema = Some(json!({"type": "object", "properties": {"id": {}, "q": {}, "a": {}, "b": {}}}));
        let compiled = d.compile().unwrap();
        match &compiled.tools["t"].steps[0] {
            CompiledStep::Http(h) => (**h).clone(),
            _ => unreachable!(),
        }
    }

    fn url_for(template: &str, args: Value) -> Result<String, RenderError> {
        let args = args.as_object().unwrap().clone();
        let scope = Scope { args: Some(&args), ..Default::default() };
        build_url(&step(template), &scope).map(|u| u.to_string())
    }

    #[test]
    fn arguments_fill_the_path_and_query_but_never_move_the_request() {
        assert_eq!(
            url_for("https://api.example.com/users/{{id}}/repos?q={{q}}", json!({"id": "../../admin", "q": "a&b=c#d"}))
                .unwrap(),
            "https://api.example.com/users/..%2F..%2Fadmin/repos?q=a%26b%3Dc%23d"
        );
        assert_eq!(
            url_for("https://api.example.com/x/{{id}}", json!({"id": "@evil.example:8080/y?z"})).unwrap(),
            "https://api.example.com/x/%40evil.example%3A8080%2Fy%3Fz"
        );
        for climb in ["..", ".", "%2e%2E", "%2E"] {
            // `%` is encoded, so only a real dot climbs; both are refused.
            let r = url_for("https://api.example.com/x/{{id}}", json!({ "id": climb }));
            if climb.starts_with('.') {
                assert!(r.is_err(), "{climb}");
            } else {
                assert!(r.unwrap().contains("%25"), "{climb}");
            }
        }
        assert!(url_for("https://api.example.com/x/{{a}}{{b}}", json!({"a": ".", "b": "."})).is_err());
        // Optional query arguments left out disappear; CRLF stays data.
        assert_eq!(
            url_for("https://api.example.com/s?q={{q}}&fixed=1", json!({})).unwrap(),
            "https://api.example.com/s?fixed=1"
        );
        assert_eq!(
            url_for("https://api.example.com/s?q={{q}}", json!({"q": "a\r\nb"})).unwrap(),
            "https://api.example.com/s?q=a%0D%0Ab"
        );
    }

    #[test]
    fn bodies_classify_by_content_type() {
        assert!(matches!(classify(Some("application/json; charset=utf-8"), b"{\"a\":1}".to_vec()), Ok(Body::Json(_))));
        assert!(matches!(classify(Some("application/problem+json"), b"[]".to_vec()), Ok(Body::Json(_))));
        assert!(classify(Some("application/json"), b"<html>".to_vec()).is_err());
        assert!(matches!(classify(Some("text/xml"), b"<a/>".to_vec()), Ok(Body::Text(_))));
        assert!(matches!(classify(None, b"{\"a\":1}".to_vec()), Ok(Body::Json(_))));
        assert!(matches!(classify(None, b"hello".to_vec()), Ok(Body::Text(_))));
        assert!(matches!(classify(Some("image/png"), vec![0x89, 0x50]), Ok(Body::Binary { .. })));
    }

    #[test]
    fn secrets_are_masked_in_every_form() {
        let secrets = HashMap::from([("KEY".to_string(), "sk live/1".to_string())]);
        let config = json!({"TOKEN": "user-tok", "UNITS": "metric"}).as_object().unwrap().clone();
        let secret_settings = std::collections::HashSet::from(["TOKEN".to_string()]);
        let args = Map::new();
        let inputs = Inputs { args: &args, config: &config, secrets: &secrets, secret_settings: &secret_settings };
        let mask = Mask::of(&inputs);
        assert_eq!(mask.text("k=sk+live%2F1&t=user-tok&u=metric"), format!("k={MASK}&t={MASK}&u=metric"));
        assert_eq!(mask.text("Bearer sk live/1"), format!("Bearer {MASK}"));
        assert_eq!(mask.text("sk%20live%2F1"), MASK);
        let echoed = CallToolResult::structured(json!({"url": "https://x/?key=sk+live%2F1", "n": 1}));
        let clean = mask.result(echoed);
        assert_eq!(clean.structured_content.unwrap(), json!({"url": format!("https://x/?key={MASK}"), "n": 1}));
        assert!(!serde_json::to_string(&clean.content).unwrap().contains("sk"));
    }
}
