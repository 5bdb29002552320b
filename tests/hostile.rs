//! Hostile input, tried as an attacker would: what anyone who registers may
//! publish (templates, schemas, URLs) and send (URIs, arguments, forged
//! browser requests). Each attack is refused, or answered, at little cost;
//! a request that froze a worker would fail the test at its time limit.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{TestServer, expect_error};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams,
        ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const DEV: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback"];

/// A developer (token, key).
async fn developer(s: &TestServer, email: &str) -> (String, String) {
    let token = s.register(email, PASSWORD).await;
    let (_, key) = s.create_key(&token, "deploy").await;
    (token, key)
}

/// A deploy body for a developer-hosted server on a port nobody listens on.
fn server(name: &str, extra: Value) -> Value {
    let mut body = json!({"name": name, "hostingType": "developer_hosted", "callbackUrl": "http://127.0.0.1:9",
                          "tools": [{"name": "ping"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Runs a request future, failing the test instead of hanging on it.
async fn soon<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f).await.unwrap_or_else(|_| panic!("{what} did not answer in 10 s"))
}

/// Resource templates: the matcher is linear, and templates past the caps
/// are refused at deploy.
async fn templates_cannot_freeze_a_worker(s: TestServer) {
    let (token, key) = developer(&s, "dev@example.com").await;
    // Past the cap on expressions: refused with a reason.
    let many = format!("x://{}", "{+a}".repeat(40));
    let res = s
        .post_json(
            "/api/mcp/deploy",
            server("many", json!({"resources": [{"uriTemplate": many, "name": "t"}]})),
            Some(&key),
        )
        .await;
    let body = expect_error(res, 422, "invalid_field").await;
    assert_eq!(body["error"]["field"], "resources[0].uriTemplate", "{body}");
    // At the cap, twenty `{+a}` and a URI that almost matches: about 10^19
    // steps for a backtracking matcher.
    let twenty = format!("x://{}z", "{+a}".repeat(20));
    let res = s
        .post_json(
            "/api/mcp/deploy",
            server("twenty", json!({"resources": [{"uriTemplate": twenty, "name": "t"}]})),
            Some(&key),
        )
        .await;
    assert_eq!(res.status(), 201);
    let deployed: Value = res.json().await.unwrap();
    s.post_json("/api/installations", json!({"serverId": deployed["serverId"]}), Some(&token)).await;
    let uri = format!("x://{}", "a".repeat(4000));
    for _ in 0..20 {
        let body = json!({"serverId": "twenty", "uri": uri});
        let res = soon("a read of a near-miss URI", s.post_json("/mcp/resource", body, Some(&token))).await;
        expect_error(res, 404, "not_found").await;
    }
    // Over `/mcp` too.
    let public = format!("omnimcp://twenty/{}", "a".repeat(4000));
    let answer = soon("an MCP read", common::rpc::stateless(&s, &key, "resources/read", json!({"uri": public}))).await;
    assert_eq!(answer["code"], -32602, "{answer}");
    s.stop().await;
}

/// Input schemas: hostile ones are refused at deploy with the reason.
async fn hostile_schemas_are_refused_at_deploy(s: TestServer) {
    let (_, key) = developer(&s, "dev@example.com").await;
    let mut defs = serde_json::Map::new();
    defs.insert("d0".into(), json!({"type": "string"}));
    for i in 1..=6 {
        let prev = json!({"$ref": format!("#/$defs/d{}", i - 1)});
        defs.insert(format!("d{i}"), json!({"allOf": vec![prev; 8]}));
    }
    let chain = json!({"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d6"}}});
    let remote = json!({"type": "object", "properties": {"x": {"$ref": "http://169.254.169.254/latest"}}});
    let backref = json!({"type": "object", "properties": {"x": {"type": "string", "pattern": "^(a+)\\1$"}}});
    for (schema, why) in [(chain, "expands past"), (remote, "not local"), (backref, "")] {
        let body = server("bad", json!({"tools": [{"name": "t", "inputSchema": schema}]}));
        let res = soon("a deploy", s.post_json("/api/mcp/deploy", body, Some(&key))).await;
        let err = expect_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], "tools[0].inputSchema", "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains(why), "{err}");
    }
    assert!(!s.state.db.slug_taken("bad").await.unwrap(), "nothing was written");
    s.stop().await;
}

on_both_databases!(flags: super::DEV; templates_cannot_freeze_a_worker, hostile_schemas_are_refused_at_deploy);

/// A remote MCP server that never stops paging its tool list, answers a
/// call with more than the response limit, and announces list changes
/// without end.
#[derive(Clone, Default)]
struct Flood {
    pages: Arc<AtomicUsize>,
}

impl ServerHandler for Flood {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        let start: usize = request.and_then(|r| r.cursor).and_then(|c| c.parse().ok()).unwrap_or(0);
        let tools = (start..start + 50)
            .map(|i| Tool::new(format!("t{i}"), "flood", Arc::new(serde_json::Map::new())))
            .collect();
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = Some((start + 50).to_string());
        Ok(result)
    }

    async fn call_tool(
        &self,
        _: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        for _ in 0..200 {
            let _ = context.peer.notify_tool_list_changed().await;
        }
        let huge = "x".repeat(6 * 1024 * 1024);
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(huge)])))
    }
}

#[tokio::test]
async fn a_flooding_remote_server_is_read_within_limits() {
    let flood = Flood::default();
    let pages = flood.pages.clone();
    let url = common::serve_remote_mcp(move || flood.clone()).await;

    let s = TestServer::start_on_with(common::Backend::Sqlite, DEV).await.unwrap();
    let (token, key) = developer(&s, "dev@example.com").await;
    // Discovery stops after a bounded number of pages and keeps the cap.
    let body = json!({"name": "flood", "hostingType": "remote_mcp", "url": url});
    let res = soon("a deploy of an endless list", s.post_json("/api/mcp/deploy", body, Some(&key))).await;
    assert_eq!(res.status(), 201);
    assert!(pages.load(Ordering::SeqCst) <= 16, "pages read: {pages:?}");
    let server = s.state.db.server_by_slug("flood").await.unwrap().unwrap();
    assert_eq!(s.state.db.server_tools(server.id).await.unwrap().len(), omnimcp::servers::MAX_TOOLS);
    // A call answered with more than the response limit is a clear error,
    // and the flood of announcements meanwhile is merged into one re-listing.
    s.post_json("/api/installations", json!({"serverId": server.id}), Some(&token)).await;
    let before = pages.load(Ordering::SeqCst);
    let res = soon(
        "a call with a huge answer",
        s.post_json("/mcp/call", json!({"serverId": "flood", "toolName": "t0", "arguments": {}}), Some(&token)),
    )
    .await;
    let err = expect_error(res, 502, "upstream_error").await;
    assert!(!err["error"]["message"].as_str().unwrap().contains("xxxx"), "{err}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let relisted = pages.load(Ordering::SeqCst) - before;
    assert!(relisted <= 2 * 16, "200 announcements re-listed the server {relisted} pages' worth");
    s.stop().await;
}
