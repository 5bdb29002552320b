//! Tool input schemas as anyone may deploy them: any JSON is refused or
//! compiled within the limits, and a compiled one validates any instance
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (schema, instance) = text.split_once('\0').unwrap_or((text, "{}"));
    let Ok(schema) = serde_json::from_str::<serde_json::Value>(schema) else { return };
    if let Ok(validator) = omnimcp::gateway::registry::compile_schema(&schema) {
        if let Ok(instance) = serde_json::from_str::<serde_json::Value>(instance) {
            let _ = validator.is_valid(&instance);
        }
    }
});
