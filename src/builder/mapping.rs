//! Response mappings: what a builder tool returns, picked out of the
//! responses of its steps.
//!
//! A mapping is JSON whose strings say where values come from:
//!
//! - `$.main.temp`, `$.items[?@.price < 10].name`: an RFC 9535 JSONPath
//!   (the `serde_json_path` crate) over the last response; a singular query
//!   (names and indexes only) gives one value or `null`, any other gives
//!   the list of what it selects;
//! - `{{data.main.temp}}`, `{{data.weather[0].main}}`: the design
//!   document's form, the value itself (a number stays a number), and
//!   `{{steps.ID.x}}` or `{{city}}` (an argument) likewise;
//! - `"{{data.name}}: {{data.main.temp}} °C"`: text with values put in;
//! - objects and lists of those, mapped field by field; anything else as it
//!   is.
//!
//! A path that selects nothing gives `null`. A mapping never reaches the
//! publisher's secrets or the user's settings: it shapes what the caller
//! sees, and neither belongs there.

use serde_json::{Map, Value, json};
use serde_json_path::JsonPath;

use super::template::{Piece, Root, Scope, Template};

/// A parsed mapping.
#[derive(Debug, Clone)]
pub enum Mapping {
    Path { path: JsonPath, singular: bool },
    Template(Template),
    Object(Vec<(String, Mapping)>),
    List(Vec<Mapping>),
    Literal(Value),
}

/// Whether a JSONPath query is singular (RFC 9535 §2.3.5.1: name and index
/// selectors only), read from its text: no wildcard, descendant segment,
/// filter, slice or selector list outside quoted names.
fn singular(query: &str) -> bool {
    let mut quote = None;
    let mut prev = '\0';
    let mut escaped = false;
    for c in query.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if matches!(c, '*' | '?' | ':' | ',') || (c == '.' && prev == '.') {
                    return false;
                }
            }
        }
        prev = c;
    }
    true
}

impl Mapping {
    /// Parses a mapping; an error is the field at fault (`at` or inside it)
    /// and what is wrong.
    pub fn parse(value: &Value, at: &str) -> Result<Self, (String, String)> {
        Ok(match value {
            Value::String(s) if s.starts_with('$') => {
                let path = JsonPath::parse(s)
                    .map_err(|e| (at.to_string(), format!("{s} is not a JSONPath (RFC 9535): {e}")))?;
                Mapping::Path { path, singular: singular(s) }
            }
            Value::String(s) if s.contains("{{") => {
                let t = Template::parse(s).map_err(|e| (at.to_string(), e))?;
                if let Some(r) = t.references().find(|r| matches!(r.root, Root::Secret(_) | Root::Config(_))) {
                    return Err((
                        at.to_string(),
                        format!("a response mapping cannot show {r}; map values from the response or the arguments"),
                    ));
                }
                Mapping::Template(t)
            }
            Value::Object(fields) => Mapping::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), Mapping::parse(v, &format!("{at}.{k}"))?)))
                    .collect::<Result<_, (String, String)>>()?,
            ),
            Value::Array(items) => Mapping::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Mapping::parse(v, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            other => Mapping::Literal(other.clone()),
        })
    }

    /// The mapped value.
    pub fn apply(&self, scope: &Scope) -> Value {
        match self {
            Mapping::Path { path, singular } => {
                let Some(data) = scope.data else { return Value::Null };
                let nodes = path.query(data);
                if *singular {
                    nodes.all().first().map(|v| (*v).clone()).unwrap_or(Value::Null)
                } else {
                    Value::Array(nodes.all().into_iter().cloned().collect())
                }
            }
            Mapping::Template(t) => match t.single() {
                Some(r) => scope.lookup(r).map(|v| v.into_owned()).unwrap_or(Value::Null),
                None => Value::String(interpolate(t, scope)),
            },
            Mapping::Object(fields) => {
                Value::Object(fields.iter().map(|(k, m)| (k.clone(), m.apply(scope))).collect::<Map<_, _>>())
            }
            Mapping::List(items) => Value::Array(items.iter().map(|m| m.apply(scope)).collect()),
            Mapping::Literal(v) => v.clone(),
        }
    }

    /// The JSON Schema of what [`Mapping::apply`] gives: exact for text,
    /// objects, lists and literals; a path's value is whatever the API
    /// answers, so its schema says only what the mapping guarantees.
    pub fn schema(&self) -> Value {
        match self {
            Mapping::Path { singular: false, .. } => json!({"type": "array"}),
            Mapping::Path { singular: true, .. } => json!({}),
            Mapping::Template(t) if t.single().is_some() => json!({}),
            Mapping::Template(_) => json!({"type": "string"}),
            Mapping::Object(fields) => {
                let properties: Map<String, Value> = fields.iter().map(|(k, m)| (k.clone(), m.schema())).collect();
                let required: Vec<&String> = fields.iter().map(|(k, _)| k).collect();
                json!({"type": "object", "properties": properties, "required": required})
            }
            Mapping::List(items) => {
                json!({"type": "array", "prefixItems": items.iter().map(Mapping::schema).collect::<Vec<_>>()})
            }
            Mapping::Literal(v) => json!({"const": v}),
        }
    }
}

/// Text with values put in; a missing value reads as nothing (a mapping
/// shapes an answer, it does not fail a call that succeeded).
fn interpolate(t: &Template, scope: &Scope) -> String {
    let mut out = String::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Ref(r) => match scope.lookup(r).as_deref() {
                Some(Value::String(s)) => out.push_str(s),
                Some(Value::Null) | None => {}
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(mapping: Value, data: Value) -> Value {
        let m = Mapping::parse(&mapping, "responseMapping").unwrap();
        let scope = Scope { data: Some(&data), ..Default::default() };
        m.apply(&scope)
    }

    fn weather() -> Value {
        json!({
            "name": "Oslo",
            "main": {"temp": 3.5, "humidity": 80},
            "weather": [{"main": "Clouds", "description": "overcast"}, {"main": "Mist"}],
            "hourly": {"time": ["00:00", "01:00"], "temperature_2m": [1.0, 0.5]}
        })
    }

    #[test]
    fn the_design_documents_example_maps_typed_values() {
        let out = map(json!({"temperature": "{{data.main.temp}}", "condition": "{{data.weather[0].main}}"}), weather());
        assert_eq!(out, json!({"temperature": 3.5, "condition": "Clouds"}));
    }

    #[test]
    fn jsonpath_selects_one_value_or_lists() {
        let out = map(
            json!({
                "temp": "$.main.temp",
                "all": "$.weather[*].main",
                "quoted": "$['main']['humidity']",
                "filtered": "$.weather[?@.main == 'Mist'].main",
                "descendants": "$..description",
                "first_hour": "$.hourly.time[0]",
                "gone": "$.nope.deeper",
                "gone_list": "$.nope[*]"
            }),
            weather(),
        );
        assert_eq!(
            out,
            json!({
                "temp": 3.5, "all": ["Clouds", "Mist"], "quoted": 80, "filtered": ["Mist"],
                "descendants": ["overcast"], "first_hour": "00:00", "gone": null, "gone_list": []
            })
        );
    }

    #[test]
    fn text_nested_objects_lists_and_literals() {
        let out = map(
            json!({
                "summary": "{{data.name}}: {{data.main.temp}} °C, {{data.nope}}",
                "place": {"city": "{{data.name}}", "source": "open-meteo"},
                "pair": ["$.main.humidity", 7],
                "missing": "{{data.weather[5].main}}"
            }),
            weather(),
        );
        assert_eq!(
            out,
            json!({
                "summary": "Oslo: 3.5 °C, ", "place": {"city": "Oslo", "source": "open-meteo"},
                "pair": [80, 7], "missing": null
            })
        );
        // A response that is a list, or not JSON at all.
        assert_eq!(map(json!({"n": "$[1].id"}), json!([{"id": 1}, {"id": 2}])), json!({"n": 2}));
        assert_eq!(map(json!({"text": "{{data}}"}), json!("plain text")), json!({"text": "plain text"}));
    }

    #[test]
    fn mappings_never_show_secrets_or_settings_and_refuse_bad_paths() {
        let (field, err) = Mapping::parse(&json!({"k": "{{secrets.API_KEY}}"}), "responseMapping").unwrap_err();
        assert!(field == "responseMapping.k" && err.contains("secret"), "{err}");
        assert!(Mapping::parse(&json!({"k": "x {{config.TOKEN}}"}), "m").is_err());
        let (field, err) = Mapping::parse(&json!({"k": "$.a[?"}), "m").unwrap_err();
        assert!(field == "m.k" && err.contains("JSONPath"), "{err}");
    }

    #[test]
    fn schemas_follow_the_mapping() {
        let m =
            Mapping::parse(&json!({"t": "$.main.temp", "all": "$.w[*]", "s": "x {{data.a}}", "k": 1}), "m").unwrap();
        let schema = m.schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["all"], json!({"type": "array"}));
        assert_eq!(schema["properties"]["s"], json!({"type": "string"}));
        assert_eq!(schema["properties"]["k"], json!({"const": 1}));
        assert_eq!(schema["required"], json!(["all", "k", "s", "t"]));
        assert!(singular("$['a.*b'][0].c") && !singular("$.a..b") && !singular("$.a[0:2]"));
    }
}
