//! Notion: search, read and create pages through the public API, with the
//! user's integration token (`NOTION_TOKEN`, from the installation's
//! `token`). Errors are `{"object": "error", "status", "code", "message"}`.

use reqwest::{
    Method,
    header::{HeaderMap, HeaderValue},
};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;

use super::{ToolResult, tool_error};
use serde_json::{Value, json};

use super::http::{Answer, ApiClient, segment};

pub const API_URL: &str = "https://api.notion.com/v1";
const NOTION_VERSION: &str = "2022-06-28";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Text to look for in titles.
    pub query: String,
    /// 1-100, default 10.
    pub page_size: Option<u8>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PageRef {
    pub page_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewPage {
    /// The page to create the new page under.
    pub parent_page_id: String,
    pub title: String,
    /// Optional first paragraph.
    pub content: Option<String>,
}

#[derive(Clone)]
pub struct Notion {
    api: ApiClient,
    tool_router: ToolRouter<Self>,
}

fn check(a: Answer) -> Result<Value, String> {
    if (200..300).contains(&a.status) {
        return Ok(a.body);
    }
    let code = a.body["code"].as_str().unwrap_or("unknown");
    let message = a.body["message"].as_str().unwrap_or("unknown error");
    Err(match code {
        "unauthorized" => format!("Notion refused the token ({message}); update it in your installation"),
        "object_not_found" => "not found in Notion (or not shared with the integration)".into(),
        "rate_limited" => {
            let retry = a.headers.get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or("a few");
            format!("Notion is rate limiting requests; retry in {retry} seconds")
        }
        "validation_error" => format!("Notion rejected the request: {message}"),
        other => format!("Notion answered {} {other}: {message}", a.status),
    })
}

/// A page's title: the `title`-typed property, whatever it is named.
fn title_of(page: &Value) -> String {
    page["properties"]
        .as_object()
        .and_then(|props| props.values().find(|p| p["type"] == "title"))
        .and_then(|p| p["title"].as_array())
        .map(|parts| parts.iter().filter_map(|t| t["plain_text"].as_str()).collect::<String>())
        .unwrap_or_default()
}

fn page_view(p: &Value) -> Value {
    json!({"id": p["id"], "title": title_of(p), "url": p["url"], "object": p["object"],
           "createdTime": p["created_time"], "lastEditedTime": p["last_edited_time"], "archived": p["archived"]})
}

#[tool_router]
impl Notion {
    pub fn new(base: Option<String>) -> Self {
        let mut extra = HeaderMap::new();
        extra.insert("notion-version", HeaderValue::from_static(NOTION_VERSION));
        Self {
            api: ApiClient::new(base.unwrap_or_else(|| API_URL.into()), "NOTION_TOKEN", extra),
            tool_router: Self::tool_router(),
        }
    }

    pub fn tool_definitions() -> Vec<(String, String, Value)> {
        super::definitions(Self::tool_router())
    }

    #[tool(description = "Search pages and databases shared with the integration, by title.")]
    async fn search(&self, Parameters(a): Parameters<SearchArgs>) -> ToolResult {
        let body = json!({"query": a.query, "page_size": a.page_size.unwrap_or(10).clamp(1, 100)});
        match self.api.send(Method::POST, "/search", &[], Some(&body)).await.and_then(check) {
            Ok(v) => {
                let results: Vec<Value> =
                    v["results"].as_array().map(|r| r.iter().map(page_view).collect()).unwrap_or_default();
                let text = results
                    .iter()
                    .map(|p| format!("{} ({})", p["title"].as_str().unwrap_or(""), p["id"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(super::with_structured(
                    if text.is_empty() { "nothing found".into() } else { text },
                    json!({"results": results, "hasMore": v["has_more"]}),
                ))
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Get a page's properties (title, URL, dates).")]
    async fn get_page(&self, Parameters(a): Parameters<PageRef>) -> ToolResult {
        match self.api.send(Method::GET, &format!("/pages/{}", segment(&a.page_id)), &[], None).await.and_then(check) {
            Ok(v) => {
                let p = page_view(&v);
                Ok(super::with_structured(
                    format!("{} {}", p["title"].as_str().unwrap_or(""), p["url"].as_str().unwrap_or("")),
                    p,
                ))
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Create a page under another page, with a title and an optional first paragraph.")]
    async fn create_page(&self, Parameters(a): Parameters<NewPage>) -> ToolResult {
        if a.title.trim().is_empty() {
            return tool_error("the title must not be empty");
        }
        let mut body = json!({
            "parent": {"page_id": a.parent_page_id},
            "properties": {"title": {"title": [{"type": "text", "text": {"content": a.title}}]}},
        });
        if let Some(content) = a.content.filter(|c| !c.is_empty()) {
            body["children"] = json!([{"object": "block", "type": "paragraph",
                "paragraph": {"rich_text": [{"type": "text", "text": {"content": content}}]}}]);
        }
        match self.api.send(Method::POST, "/pages", &[], Some(&body)).await.and_then(check) {
            Ok(v) => {
                let p = page_view(&v);
                Ok(super::with_structured(format!("created {}", p["url"].as_str().unwrap_or("")), p))
            }
            Err(e) => tool_error(e),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Notion {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("omnimcp-notion", env!("CARGO_PKG_VERSION")))
    }
}
