//! Remote MCP servers over Streamable HTTP: two real rmcp servers on
//! loopback, one speaking the 2026-07-28 era and one only the 2025-11-25
//! era. Deploying discovers their tools; calls go through `POST /mcp/call`.

mod common;

use std::borrow::Cow;

use common::{Backend, TestServer, expect_error};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ContentBlock, ProtocolVersion, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

#[derive(Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

#[derive(Clone)]
struct Adder {
    legacy_only: bool,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Adder {
    fn new(legacy_only: bool) -> Self {
        Self { legacy_only, tool_router: Self::tool_router() }
    }

    #[tool(description = "Add two integers")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<CallToolResult, rmcp::ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text((a + b).to_string())]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Adder {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        if self.legacy_only {
            Cow::Owned(vec![ProtocolVersion::V_2025_11_25])
        } else {
            Cow::Owned(vec![ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25])
        }
    }
}

async fn start_upstream(legacy_only: bool) -> String {
    common::serve_remote_mcp(move || Adder::new(legacy_only)).await
}

#[tokio::test]
async fn remote_servers_in_both_protocol_eras() {
    let s = TestServer::start_on_with(Backend::Sqlite, &["--outbound-allow-http", "--outbound-allow-loopback"])
        .await
        .unwrap();
    let dev = s.register("dev@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&dev, "deploy").await;
    let bob = s.register("bob@example.com", PASSWORD).await;

    for (name, legacy_only) in [("adder-2026", false), ("adder-legacy", true)] {
        let url = start_upstream(legacy_only).await;
        let res = s
            .post_json("/api/mcp/deploy", json!({"name": name, "hostingType": "remote_mcp", "url": url}), Some(&key))
            .await;
        let status = res.status();
        let deployed: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{name}: {deployed}");
        assert!(deployed.get("webhookSecret").is_none(), "remote servers have no webhook secret");
        let id = deployed["serverId"].as_str().unwrap().to_string();
        let detail: Value = s.get(&format!("/api/servers/{id}"), None).await.json().await.unwrap();
        assert_eq!(detail["tools"][0]["name"], "add", "tools discovered from the server: {detail}");
        assert_eq!(detail["tools"][0]["inputSchema"]["required"], json!(["a", "b"]));

        assert_eq!(s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.status(), 201);
        for (a, b) in [(2, 3), (40, 2)] {
            let res: Value = s
                .post_json(
                    "/mcp/call",
                    json!({"serverId": name, "toolName": "add", "arguments": {"a": a, "b": b}}),
                    Some(&bob),
                )
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(res["success"], true, "{name}: {res}");
            assert_eq!(res["result"]["content"][0]["text"], (a + b).to_string(), "{name}");
        }
        let err = expect_error(
            s.post_json(
                "/mcp/call",
                json!({"serverId": name, "toolName": "add", "arguments": {"a": "two"}}),
                Some(&bob),
            )
            .await,
            422,
            "invalid_field",
        )
        .await;
        assert!(err["error"]["field"].as_str().unwrap().starts_with("arguments"));
    }

    // A URL with no MCP server behind it is refused at deploy time.
    let dead = json!({"name": "dead", "hostingType": "remote_mcp", "url": "http://127.0.0.1:9/mcp"});
    let err = expect_error(s.post_json("/api/mcp/deploy", dead, Some(&key)).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "url");
    s.stop().await;
}

/// A remote server nobody here wrote the server side of: the official
/// Python SDK's Streamable HTTP server (tests/fixtures/slow_server.py).
#[tokio::test]
async fn python_sdk_streamable_http_server_as_a_remote_upstream() {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(python.exists(), "run .ci/run first: it creates .venv with the Python MCP SDK");
    let port = common::free_port();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_server.py");
    let mut command = tokio::process::Command::new(python);
    let _server = common::spawn_listening(command.arg(script).args(["http", &port.to_string()]), port).await;

    let s = TestServer::start_on_with(Backend::Sqlite, &["--outbound-allow-http", "--outbound-allow-loopback"])
        .await
        .unwrap();
    let dev = s.register("dev@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&dev, "deploy").await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let res = s
        .post_json("/api/mcp/deploy", json!({"name": "pyfixture", "hostingType": "remote_mcp", "url": url}), Some(&key))
        .await;
    let status = res.status();
    let deployed: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{deployed}");
    let id = deployed["serverId"].as_str().unwrap().to_string();
    let detail: Value = s.get(&format!("/api/servers/{id}"), None).await.json().await.unwrap();
    let tools: Vec<&str> = detail["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["sleep", "whoami"]);
    assert_eq!(detail["resources"][0]["uri"], "fixture://greeting");

    let bob = s.register("bob@example.com", PASSWORD).await;
    assert_eq!(s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.status(), 201);
    let res: Value = s
        .post_json(
            "/mcp/call",
            json!({"serverId": "pyfixture", "toolName": "sleep", "arguments": {"seconds": 0.05}}),
            Some(&bob),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], true, "{res}");
    assert_eq!(res["result"]["content"][0]["text"], "slept 0.05");
    let res: Value = s
        .post_json("/mcp/resource", json!({"serverId": "pyfixture", "uri": "fixture://greeting"}), Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["result"]["contents"][0]["text"], "hello from the fixture", "{res}");
    s.stop().await;
}
