//! Tools over a private data source: your notes, in a JSON file on your own
//! machine. The platform never sees the file, only the answers to the calls
//! it forwards. Shows shared state across handlers, a resource and a prompt.
//!
//! ```sh
//! NOTES_FILE=/tmp/notes.json cargo run -p omnimcp-sdk --example notes -- stdio
//! OMNIMCP_API_KEY=omni_... cargo run -p omnimcp-sdk --example notes -- up 127.0.0.1:8082 http://127.0.0.1:8082
//! ```

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use omnimcp_sdk::{OmniMcp, PromptMessage, PromptReply, Resource, schemars::JsonSchema};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The store: notes by title, persisted as one JSON object after each
/// change. A mutex makes each tool call see and leave a consistent file.
struct Notes {
    path: PathBuf,
    notes: Mutex<BTreeMap<String, String>>,
}

impl Notes {
    async fn open(path: PathBuf) -> std::io::Result<Self> {
        let notes = match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Notes { path, notes: Mutex::new(notes) })
    }

    async fn save(&self, notes: &BTreeMap<String, String>) -> std::io::Result<()> {
        // Write a sibling file, then rename: a crash never leaves half a file.
        let tmp = self.path.with_extension("tmp");
        tokio::fs::write(&tmp, serde_json::to_vec_pretty(notes)?).await?;
        tokio::fs::rename(&tmp, &self.path).await
    }
}

#[derive(Deserialize, JsonSchema)]
struct AddNote {
    /// A short, unique title.
    title: String,
    /// The note's text.
    body: String,
}

#[derive(Deserialize, JsonSchema)]
struct Search {
    /// Words to look for in titles and bodies (case-insensitive).
    query: String,
}

#[derive(Deserialize, JsonSchema)]
struct Summarize {
    /// Only notes mentioning this topic (optional).
    topic: Option<String>,
}

#[derive(Serialize)]
struct Hit {
    title: String,
    body: String,
}

#[tokio::main]
async fn main() -> Result<(), omnimcp_sdk::Error> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let path = std::env::var("NOTES_FILE").unwrap_or_else(|_| "notes.json".into());
    let store = Arc::new(Notes::open(path.into()).await?);
    let (add, search, index, summarize) = (store.clone(), store.clone(), store.clone(), store);

    OmniMcp::from_env()
        .name("notes-example")
        .description("Your private notes: add, search and summarise them. The notes stay on your machine.")
        .category("productivity")
        .tool("add_note", "Saves a note under a title (replacing a note with that title)", move |a: AddNote| {
            let store = add.clone();
            async move {
                if a.title.trim().is_empty() {
                    return Err("a note needs a title".to_string());
                }
                let mut notes = store.notes.lock().await;
                let replaced = notes.insert(a.title.clone(), a.body).is_some();
                store.save(&notes).await.map_err(|e| format!("could not save the note: {e}"))?;
                Ok(if replaced { format!("Replaced the note {:?}.", a.title) } else { format!("Saved {:?}.", a.title) })
            }
        })
        .tool("search_notes", "Finds notes whose title or body contains every word of the query", move |s: Search| {
            let store = search.clone();
            async move {
                let words: Vec<String> = s.query.split_whitespace().map(str::to_lowercase).collect();
                let notes = store.notes.lock().await;
                let hits: Vec<Hit> = notes
                    .iter()
                    .filter(|(title, body)| {
                        let text = format!("{title} {body}").to_lowercase();
                        words.iter().all(|w| text.contains(w))
                    })
                    .map(|(title, body)| Hit { title: title.clone(), body: body.clone() })
                    .collect();
                Ok::<_, String>(serde_json::json!({ "count": hits.len(), "notes": hits }))
            }
        })
        .resource(
            Resource::new("notes://index", "Note titles").description("Every note's title, one per line"),
            move || {
                let store = index.clone();
                async move { Ok::<_, String>(store.notes.lock().await.keys().cloned().collect::<Vec<_>>().join("\n")) }
            },
        )
        .prompt("summarize_notes", "Asks the model to summarise your notes", move |s: Summarize| {
            let store = summarize.clone();
            async move {
                let notes = store.notes.lock().await;
                let topic = s.topic.map(|t| t.to_lowercase());
                let chosen: Vec<String> = notes
                    .iter()
                    .filter(|(title, body)| {
                        topic.as_ref().is_none_or(|t| format!("{title} {body}").to_lowercase().contains(t))
                    })
                    .map(|(title, body)| format!("## {title}\n{body}"))
                    .collect();
                if chosen.is_empty() {
                    return Err("no notes match".to_string());
                }
                Ok(PromptReply::from(vec![PromptMessage::user(format!(
                    "Summarise these notes in three bullet points:\n\n{}",
                    chosen.join("\n\n")
                ))])
                .description(format!("{} note(s)", chosen.len())))
            }
        })
        .run()
        .await
}
