//! Slack: channels and messages through the Web API, with the user's bot
//! token (`SLACK_BOT_TOKEN`, from the installation's `token`). Slack
//! answers HTTP 200 with `{"ok": false, "error": "..."}` for most failures,
//! and 429 with `Retry-After` when rate limited.

use reqwest::{Method, header::HeaderMap};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;

use super::{ToolResult, tool_error};
use serde_json::{Value, json};

use super::http::{Answer, ApiClient};

pub const API_URL: &str = "https://slack.com/api";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListChannels {
    /// 1-1000, default 100.
    pub limit: Option<u16>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PostMessage {
    /// Channel id (`C0123456789`) or name (`#general`).
    pub channel: String,
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct History {
    /// Channel id.
    pub channel: String,
    /// 1-1000, default 20.
    pub limit: Option<u16>,
}

#[derive(Clone)]
pub struct Slack {
    api: ApiClient,
    tool_router: ToolRouter<Self>,
}

fn check(a: Answer) -> Result<Value, String> {
    if a.status == 429 {
        let retry = a.headers.get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or("a few");
        return Err(format!("Slack is rate limiting requests; retry in {retry} seconds"));
    }
    if a.body["ok"] == json!(true) {
        return Ok(a.body);
    }
    let code = a.body["error"].as_str().unwrap_or("unknown_error");
    Err(match code {
        "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" => {
            format!("Slack refused the token ({code}); update it in your installation")
        }
        "channel_not_found" => "no such channel (or the bot cannot see it)".into(),
        "not_in_channel" => "the bot is not a member of that channel; invite it first".into(),
        other => format!("Slack answered: {other}"),
    })
}

#[tool_router]
impl Slack {
    pub fn new(base: Option<String>) -> Self {
        Self {
            api: ApiClient::new(base.unwrap_or_else(|| API_URL.into()), "SLACK_BOT_TOKEN", HeaderMap::new()),
            tool_router: Self::tool_router(),
        }
    }

    pub fn tool_definitions() -> Vec<(String, String, Value)> {
        super::definitions(Self::tool_router())
    }

    #[tool(description = "List the workspace's public channels.")]
    async fn list_channels(&self, Parameters(a): Parameters<ListChannels>) -> ToolResult {
        let limit = a.limit.unwrap_or(100).clamp(1, 1000).to_string();
        let query = [("limit", limit), ("types", "public_channel".into()), ("exclude_archived", "true".into())];
        match self.api.send(Method::GET, "/conversations.list", &query, None).await.and_then(check) {
            Ok(v) => {
                let channels: Vec<Value> = v["channels"]
                    .as_array()
                    .map(|a| a.iter().map(|c| json!({"id": c["id"], "name": c["name"], "members": c["num_members"], "topic": c["topic"]["value"]})).collect())
                    .unwrap_or_default();
                let text = channels
                    .iter()
                    .map(|c| format!("#{} ({})", c["name"].as_str().unwrap_or("?"), c["id"].as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(super::with_structured(
                    if text.is_empty() { "no channels".into() } else { text },
                    json!({"channels": channels}),
                ))
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Post a message to a channel.")]
    async fn post_message(&self, Parameters(a): Parameters<PostMessage>) -> ToolResult {
        if a.text.trim().is_empty() {
            return tool_error("the message text must not be empty");
        }
        let body = json!({"channel": a.channel, "text": a.text});
        match self.api.send(Method::POST, "/chat.postMessage", &[], Some(&body)).await.and_then(check) {
            Ok(v) => Ok(super::with_structured(
                format!("posted to {} at {}", v["channel"].as_str().unwrap_or("?"), v["ts"].as_str().unwrap_or("?")),
                json!({"channel": v["channel"], "ts": v["ts"]}),
            )),
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Read a channel's most recent messages.")]
    async fn get_channel_history(&self, Parameters(a): Parameters<History>) -> ToolResult {
        let limit = a.limit.unwrap_or(20).clamp(1, 1000).to_string();
        match self
            .api
            .send(Method::GET, "/conversations.history", &[("channel", a.channel), ("limit", limit)], None)
            .await
            .and_then(check)
        {
            Ok(v) => {
                let messages: Vec<Value> = v["messages"]
                    .as_array()
                    .map(|a| a.iter().map(|m| json!({"user": m["user"], "text": m["text"], "ts": m["ts"]})).collect())
                    .unwrap_or_default();
                let text = messages
                    .iter()
                    .map(|m| format!("{}: {}", m["user"].as_str().unwrap_or("?"), m["text"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(super::with_structured(
                    if text.is_empty() { "no messages".into() } else { text },
                    json!({"messages": messages, "hasMore": v["has_more"]}),
                ))
            }
            Err(e) => tool_error(e),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Slack {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("omnimcp-slack", env!("CARGO_PKG_VERSION")))
    }
}
