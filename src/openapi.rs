//! The REST API's OpenAPI 3.1 description, served at `/api/openapi.json`.
//!
//! It is derived, not written: every operation is the `#[utoipa::path]` on
//! its handler (in `api.rs` and `mcp/rest.rs`), every body the
//! `utoipa::ToSchema` of the very type the handler reads or writes, so a
//! renamed field or a new status changes the document with the code. CI
//! holds the two together from the other side: schemathesis drives every
//! operation from this document and fails on any answer it does not
//! describe (`tests/openapi.rs`).
//!
//! The refusals most operations share are declared once here, as sets of
//! responses ([`BodyRefusals`], [`SignedInOnly`]...), each with the
//! [`ErrorBody`] shape that `ApiError` renders.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, OnceLock},
};

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use utoipa::{
    IntoResponses, Modify, OpenApi, ToSchema,
    openapi::{
        self, Content, HeaderBuilder, RefOr, ResponseBuilder,
        schema::{Object, Ref, Type},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use app::model::{ApiField, ApiGroup, ApiOperation, ApiReference, ApiResponse, ApiShape};
use serde_json::Value;

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OmniMCP REST API",
        description = "Accounts, API keys, the marketplace, installations, publishing, and a REST door to tool \
                       calls. MCP clients use `/mcp` instead (Streamable HTTP), which this document does not \
                       describe. Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}` with the status \
                       given for each operation."
    ),
    paths(
        crate::api::register,
        crate::api::login,
        crate::api::logout,
        crate::api::me,
        crate::api::change_password,
        crate::api::list_keys,
        crate::api::create_key,
        crate::api::revoke_key,
        crate::api::list_servers,
        crate::api::server_detail,
        crate::api::deploy,
        crate::api::rotate_secret,
        crate::api::list_installations,
        crate::api::install,
        crate::api::get_installation,
        crate::api::update_installation,
        crate::api::uninstall,
        crate::api::list_builders,
        crate::api::create_builder,
        crate::api::get_builder,
        crate::api::save_builder,
        crate::api::delete_builder,
        crate::api::set_builder_secrets,
        crate::api::test_builder,
        crate::api::publish_builder,
        crate::api::unpublish_builder,
        crate::api::preview_import,
        crate::api::import_openapi,
        crate::mcp::rest::call,
        crate::mcp::rest::resource,
    ),
    components(schemas(ErrorBody, crate::api::MarketplaceSort)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "account", description = "Registration, sessions, the signed-in user"),
        (name = "keys", description = "API keys, optionally scoped"),
        (name = "marketplace", description = "Public: the servers anyone may install"),
        (name = "installations", description = "The servers a user installed, with their settings"),
        (name = "publishing", description = "Servers a developer publishes"),
        (name = "builder", description = "Builder servers: HTTP APIs turned into tools without code"),
        (name = "calls", description = "Tool calls and resource reads outside MCP"),
    )
)]
pub struct ApiDoc;

/// The two ways to authenticate: a bearer credential (an API key
/// `omni_...` or a session token from login), or the browser's session
/// cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`omni_...`) or a session token from register or login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The browser's session (over https its name is `__Host-omni_session`); unsafe methods must come \
                 from the site itself",
            ))),
        );
    }
}

/// The document, serialized once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes"))
}

/// `GET /api/openapi.json`.
pub async fn document() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json()).into_response()
}

/// Whether a request body is what the document says `T` is; a 422 naming
/// the first place it is not. Validators are compiled once per type, from
/// the document's own components.
pub fn conforms<T: ToSchema>(body: &Value) -> Result<(), crate::error::ApiError> {
    type Validators = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    let name = T::name().into_owned();
    let validator = {
        let mut cache = VALIDATORS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&name) {
            Some(v) => v.clone(),
            None => {
                let doc: Value = serde_json::from_str(json()).expect("the document is JSON");
                let root = serde_json::json!({
                    "$ref": format!("#/components/schemas/{name}"),
                    "components": doc["components"],
                });
                let compiled = jsonschema::draft202012::new(&root)
                    .map_err(|e| anyhow::anyhow!("the OpenAPI schema of {name} does not compile: {e}"))?;
                cache.entry(name).or_insert(Arc::new(compiled)).clone()
            }
        }
    };
    match validator.iter_errors(body).next() {
        None => Ok(()),
        Some(error) => {
            let mut field = String::new();
            for segment in error.instance_path().as_str().split('/').skip(1) {
                let segment = segment.replace("~1", "/").replace("~0", "~");
                if segment.parse::<usize>().is_ok() {
                    field.push_str(&format!("[{segment}]"));
                } else {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(&segment);
                }
            }
            let field = if field.is_empty() { "body".to_string() } else { field };
            // The rule broken, never the value (it may be a secret).
            let path = error.schema_path().as_str().to_string();
            let keyword = path.rsplit('/').next().unwrap_or_default();
            let message = format!(
                "this value does not have the shape the API describes (JSON Schema `{keyword}` at {path} in \
                 /api/openapi.json)"
            );
            Err(crate::error::ApiError::InvalidField { field, message })
        }
    }
}

fn error_response(description: &str, retry_after: bool) -> RefOr<openapi::Response> {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))));
    if retry_after {
        response = response.header(
            "retry-after",
            HeaderBuilder::new()
                .schema(Object::with_type(Type::Integer))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    RefOr::T(response.build())
}

/// Declares a set of error responses (`status => description`).
macro_rules! refusals {
    ($(#[$meta:meta])* $name:ident { $($status:literal => $why:literal),+ $(,)? } $(retry_after: $retry:literal)?) => {
        $(#[$meta])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
                let retry = false $(|| $retry)?;
                [$(($status, $why)),+].into_iter().map(|(s, why)| (s.to_string(), error_response(why, retry))).collect()
            }
        }
    };
}

refusals! {
    /// What reading a JSON body can refuse (see `api::ApiJson`).
    BodyRefusals {
        "400" => "The body is not valid JSON (`malformed_request`).",
        "408" => "The body did not arrive in time (`request_timeout`).",
        "413" => "The body is larger than 64 KiB (`payload_too_large`).",
        "415" => "The body is not sent as `application/json` (`unsupported_media_type`).",
        "422" => "A field is missing, unknown, of the wrong type or invalid (`invalid_field`; `field` names it).",
    }
}

refusals! {
    /// Operations on one's own account (`auth::Manager`).
    SignedInOnly {
        "401" => "No credential, or one that is not valid (`unauthorized`).",
        "403" => "Not allowed: a scoped API key, the plan, a cross-site browser request (`forbidden`, \
                  `cross_site_request`).",
    }
}

refusals! {
    /// Public operations a browser may still be refused (`browser::refuse_cross_site`).
    CrossSite {
        "403" => "A cross-site browser request (`cross_site_request`).",
    }
}

refusals! {
    NotFound {
        "404" => "No such thing, or not yours (`not_found`).",
    }
}

refusals! {
    /// Rate limits and quotas: retry after the `retry-after` seconds.
    Throttled {
        "429" => "Too many requests (`rate_limited`).",
    }
    retry_after: true
}

refusals! {
    /// The upstream MCP server failed (details only in the platform's logs).
    UpstreamFailures {
        "502" => "The server failed or answered nonsense (`upstream_error`).",
        "504" => "The server did not answer in time (`upstream_timeout`).",
    }
}

/// The document digested for the dashboard's API reference page: the
/// operations by tag, and the object shapes they name.
pub fn reference() -> ApiReference {
    static REFERENCE: OnceLock<ApiReference> = OnceLock::new();
    REFERENCE.get_or_init(|| digest(&serde_json::from_str(json()).expect("the document is JSON"))).clone()
}

fn digest(doc: &Value) -> ApiReference {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut groups: Vec<ApiGroup> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| ApiGroup { tag: text(&t["name"]), description: text(&t["description"]), operations: vec![] })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or_default();
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ApiField {
                    name: format!("{} ({})", text(&p["name"]), text(&p["in"])),
                    kind: kind_of(&p["schema"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: text(&p["description"]),
                })
                .collect();
            let body = op["requestBody"]["content"]["application/json"].get("schema").map(kind_of);
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| ApiResponse {
                    status: status.clone(),
                    description: text(&r["description"]),
                    body: r["content"]["application/json"].get("schema").map(kind_of),
                })
                .collect();
            // `security: [{}]` marks a public operation.
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
            let operation = ApiOperation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                public,
                parameters,
                body,
                responses,
            };
            match groups.iter_mut().find(|g| g.tag == tag) {
                Some(group) => group.operations.push(operation),
                None => groups.push(ApiGroup {
                    tag: tag.to_string(),
                    description: String::new(),
                    operations: vec![operation],
                }),
            }
        }
    }
    let shapes = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, schema)| {
            let properties = properties_of(doc, schema)?;
            Some(ApiShape { name: name.clone(), description: text(&schema["description"]), fields: properties })
        })
        .collect();
    ApiReference { description: text(&doc["info"]["description"]), groups, shapes }
}

/// An object schema's properties, with those of `allOf` parts (flattened
/// structs) included.
fn properties_of(doc: &Value, schema: &Value) -> Option<Vec<ApiField>> {
    let mut fields = Vec::new();
    let mut found = false;
    let mut parts = vec![schema.clone()];
    while let Some(part) = parts.pop() {
        if let Some(name) = part["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
            parts.push(doc["components"]["schemas"][name].clone());
            continue;
        }
        if let Some(all) = part["allOf"].as_array() {
            parts.extend(all.iter().rev().cloned());
        }
        let required: Vec<&str> = part["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if let Some(props) = part["properties"].as_object() {
            found = true;
            fields.extend(props.iter().map(|(name, p)| ApiField {
                name: name.clone(),
                kind: kind_of(p),
                required: required.contains(&name.as_str()),
                description: p["description"].as_str().unwrap_or_default().to_string(),
            }));
        }
    }
    found.then_some(fields)
}

/// A schema's type as people read it.
fn kind_of(schema: &Value) -> String {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return name.to_string();
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return format!("one of {}", values.join(", "));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[key].as_array() {
            let kinds: Vec<String> = parts.iter().map(kind_of).collect();
            return kinds.join(if key == "allOf" { " and " } else { " or " });
        }
    }
    let one = |t: &str| match t {
        "array" => format!("array of {}", kind_of(&schema["items"])),
        "string" => match schema["format"].as_str() {
            Some(format) => format!("string ({format})"),
            None => "string".into(),
        },
        other => other.to_string(),
    };
    match &schema["type"] {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(one).collect::<Vec<_>>().join(" or "),
        _ => "any JSON".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation() {
        let doc: Value = serde_json::from_str(super::json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        let paths = doc["paths"].as_object().unwrap();
        let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(operations, 30, "{:?}", paths.keys().collect::<Vec<_>>());
        let reference = super::reference();
        let listed: usize = reference.groups.iter().map(|g| g.operations.len()).sum();
        assert_eq!(listed, operations);
        let deploy = reference.shapes.iter().find(|s| s.name == "DeployRequest").expect("DeployRequest");
        let hosting = deploy.fields.iter().find(|f| f.name == "hostingType").unwrap();
        assert!(hosting.required && hosting.kind == "HostingType", "{hosting:?}");
        // Every error response points at the one error shape.
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
                    }
                }
            }
        }
    }
}
