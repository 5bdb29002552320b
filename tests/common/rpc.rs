//! Raw MCP over HTTP against `/mcp`, for tests that need to see exactly
//! what goes over the wire (statuses, session ids, error codes): a
//! 2026-07-28 stateless request, and a 2025-11-25 session.

use serde_json::{Value, json};

use super::TestServer;

/// The JSON-RPC message in an SSE or JSON answer (the last one).
pub fn message(text: &str) -> Value {
    let data = text.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|d| d.starts_with('{')).last();
    serde_json::from_str(data.unwrap_or(text)).unwrap_or_else(|_| json!({"raw": text}))
}

/// The `result` or `error` object of an answer.
fn outcome(answer: Value) -> Value {
    answer.get("result").or_else(|| answer.get("error")).cloned().unwrap_or(answer)
}

/// One stateless (2026-07-28) JSON-RPC request to `/mcp`; the `result` or
/// `error` object.
pub async fn stateless(s: &TestServer, key: &str, method: &str, params: Value) -> Value {
    stateless_as(s, key, method, params, json!({})).await
}

/// As [`stateless`], from a client with these capabilities.
pub async fn stateless_as(s: &TestServer, key: &str, method: &str, mut params: Value, capabilities: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "omnimcp-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    let mut req = s
        .client
        .post(s.at("/mcp"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    let name = ["name", "uri", "taskId"].iter().find_map(|field| params.get(*field));
    if let Some(name) = name.and_then(|v| v.as_str()) {
        req = req.header("mcp-name", name);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let text = req.json(&body).send().await.unwrap().text().await.unwrap();
    outcome(message(&text))
}

/// A 2025-11-25 session opened with `initialize`.
#[derive(Clone)]
pub struct Session {
    pub id: String,
    url: String,
    client: reqwest::Client,
}

impl Session {
    /// Opens a session with this key (initialize, then initialized).
    pub async fn open(s: &TestServer, key: &str) -> Self {
        Self::try_open(s, key).await.unwrap_or_else(|(status, answer)| panic!("initialize: {status} {answer}"))
    }

    /// Opens a session, or returns the refusal's status and answer.
    pub async fn try_open(s: &TestServer, key: &str) -> Result<Self, (u16, Value)> {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
        let res = s
            .client
            .post(s.at("/mcp"))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init.to_string())
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            let status = res.status().as_u16();
            return Err((status, outcome(message(&res.text().await.unwrap()))));
        }
        let Some(id) = res.headers().get("mcp-session-id").map(|v| v.to_str().unwrap().to_string()) else {
            return Err((200, outcome(message(&res.text().await.unwrap()))));
        };
        let session = Self { id, url: s.at("/mcp"), client: s.client.clone() };
        let (status, _) = session.post(key, json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        assert_eq!(status, 202, "initialized");
        Ok(session)
    }

    /// Ends the session (`DELETE /mcp`).
    pub async fn close(&self, key: &str) -> u16 {
        let res = self
            .client
            .delete(&self.url)
            .bearer_auth(key)
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }

    /// The same endpoint under another session id (one that may not exist).
    pub fn with_id(&self, id: &str) -> Self {
        Self { id: id.to_string(), ..self.clone() }
    }

    /// Posts one message on this session with `key`: the status and the
    /// JSON-RPC answer (if any).
    pub async fn post(&self, key: &str, message_body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(&self.url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .body(message_body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, message(&res.text().await.unwrap()))
    }

    /// A request on this session with `key`: the status and the `result`
    /// or `error` object.
    pub async fn request(&self, key: &str, method: &str, params: Value) -> (u16, Value) {
        let (status, answer) =
            self.post(key, json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).await;
        (status, outcome(answer))
    }

    /// Opens the session's GET stream with `key` (the response, to read).
    pub async fn stream(&self, key: &str) -> reqwest::Response {
        self.client
            .get(&self.url)
            .bearer_auth(key)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap()
    }
}
