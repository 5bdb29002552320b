//! Hostile input, tried as an attacker would: what anyone who registers may
//! publish (templates, schemas, URLs) and send (URIs, arguments, forged
//! browser requests). Each attack is refused, or answered, at little cost;
//! a request that froze a worker would fail the test at its time limit.

mod common;

use std::time::Duration;

use common::{TestServer, expect_error};
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
    let res = s.post_json("/api/mcp/deploy", server("many", json!({"resources": [{"uriTemplate": many, "name": "t"}]})), Some(&key)).await;
    let body = expect_error(res, 422, "invalid_field").await;
    assert_eq!(body["error"]["field"], "resources[0].uriTemplate", "{body}");
    // At the cap, twenty `{+a}` and a URI that almost matches: about 10^19
    // steps for a backtracking matcher.
    let twenty = format!("x://{}z", "{+a}".repeat(20));
    let res = s.post_json("/api/mcp/deploy", server("twenty", json!({"resources": [{"uriTemplate": twenty, "name": "t"}]})), Some(&key)).await;
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
