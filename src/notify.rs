//! Change notifications to connected MCP clients: when a user's set of
//! tools, resources or prompts changes (install, uninstall, enable,
//! disable, a redeploy of a server they installed, or an upstream server's
//! own announcement), every one of their clients hears of it:
//!
//! - legacy sessions (2025-11-25 and earlier) get
//!   `notifications/{tools,resources,prompts}/list_changed` on their
//!   session; a session is registered when the client completes the
//!   handshake and dropped once its peer is gone;
//! - 2026-07-28 clients, which have no session, get the same notifications
//!   on their open `subscriptions/listen` streams (rmcp's sink adds the
//!   subscription id); a stream is registered for as long as its request
//!   is open.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use rmcp::{
    Peer, RoleServer,
    model::{
        PromptListChangedNotification, ResourceListChangedNotification, ServerNotification, ToolListChangedNotification,
    },
    service::SubscriptionSink,
};
use uuid::Uuid;

#[derive(Default)]
struct Listeners {
    sessions: Vec<Peer<RoleServer>>,
    streams: Vec<(u64, SubscriptionSink)>,
}

#[derive(Default)]
pub struct Notifier {
    users: Mutex<HashMap<Uuid, Listeners>>,
    next_stream: AtomicU64,
}

impl Notifier {
    /// Remembers an initialized legacy session of a user.
    pub fn register(&self, user: Uuid, peer: Peer<RoleServer>) {
        self.users.lock().expect("notifier lock").entry(user).or_default().sessions.push(peer);
    }

    /// Remembers an open `subscriptions/listen` stream; the id forgets it.
    pub fn listen(&self, user: Uuid, sink: SubscriptionSink) -> u64 {
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        self.users.lock().expect("notifier lock").entry(user).or_default().streams.push((id, sink));
        id
    }

    /// Forgets a stream whose request ended.
    pub fn stop_listening(&self, user: Uuid, id: u64) {
        let mut users = self.users.lock().expect("notifier lock");
        if let Some(l) = users.get_mut(&user) {
            l.streams.retain(|(i, _)| *i != id);
        }
    }

    /// Open sessions and streams of a user (diagnostics, tests).
    pub fn sessions(&self, user: Uuid) -> usize {
        self.users.lock().expect("notifier lock").get(&user).map_or(0, |l| l.sessions.len() + l.streams.len())
    }

    /// Tells every open session and stream of these users that their lists
    /// changed. Sends run in the background: a slow client never delays
    /// the change.
    pub fn lists_changed(&self, users: impl IntoIterator<Item = Uuid>) {
        let (mut sessions, mut streams) = (Vec::new(), Vec::new());
        {
            let mut all = self.users.lock().expect("notifier lock");
            for user in users {
                if let Some(l) = all.get_mut(&user) {
                    l.sessions.retain(|p| !p.is_transport_closed());
                    sessions.extend(l.sessions.iter().cloned());
                    streams.extend(l.streams.iter().map(|(_, s)| s.clone()));
                }
            }
        }
        for peer in sessions {
            tokio::spawn(async move {
                let _ = peer.notify_tool_list_changed().await;
                let _ = peer.notify_resource_list_changed().await;
                let _ = peer.notify_prompt_list_changed().await;
            });
        }
        for sink in streams {
            tokio::spawn(async move {
                let changes = [
                    ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default()),
                    ServerNotification::ResourceListChangedNotification(ResourceListChangedNotification::default()),
                    ServerNotification::PromptListChangedNotification(PromptListChangedNotification::default()),
                ];
                for change in changes {
                    // A category the client did not ask for is refused by
                    // the sink; that is the filter working, not an error.
                    let _ = sink.send(change).await;
                }
            });
        }
    }

    /// Forgets sessions whose peers are closed.
    pub fn prune(&self) {
        let mut users = self.users.lock().expect("notifier lock");
        for l in users.values_mut() {
            l.sessions.retain(|p| !p.is_transport_closed());
        }
        users.retain(|_, l| !l.sessions.is_empty() || !l.streams.is_empty());
    }
}

/// What a `subscriptions/listen` stream is accepted for, on `/mcp` and in
/// `omnimcp connect`: every list change (resource subscriptions go through
/// the legacy `resources/subscribe`).
pub fn list_changes() -> rmcp::model::SubscriptionFilter {
    let mut accepted = rmcp::model::SubscriptionFilter::new();
    accepted.tools_list_changed = Some(true);
    accepted.resources_list_changed = Some(true);
    accepted.prompts_list_changed = Some(true);
    accepted
}
