//! What `/mcp` parses: any bytes as a client's JSON-RPC message, without
//! panicking (rmcp's types, as the endpoint uses them).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<rmcp::model::ClientJsonRpcMessage>(data);
    let _ = serde_json::from_slice::<rmcp::model::ServerJsonRpcMessage>(data);
});
