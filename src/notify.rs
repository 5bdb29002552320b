//! Change notifications to open MCP sessions: when a user's set of tools or
//! resources changes (install, uninstall, enable, disable, a redeploy of a
//! server they installed), each of their open legacy sessions gets
//! `notifications/tools/list_changed` and `notifications/resources/list_changed`.
//! Sessions are registered when the client completes the handshake; a
//! session whose peer is gone is dropped on the next send. (The 2026-07-28
//! `subscriptions/listen` streams are not wired yet.)

use std::{collections::HashMap, sync::Mutex};

use rmcp::{Peer, RoleServer};
use uuid::Uuid;

#[derive(Default)]
pub struct Notifier {
    peers: Mutex<HashMap<Uuid, Vec<Peer<RoleServer>>>>,
}

impl Notifier {
    /// Remembers an initialized session of a user.
    pub fn register(&self, user: Uuid, peer: Peer<RoleServer>) {
        self.peers.lock().expect("notifier lock").entry(user).or_default().push(peer);
    }

    /// Open sessions of a user (diagnostics, tests).
    pub fn sessions(&self, user: Uuid) -> usize {
        self.peers.lock().expect("notifier lock").get(&user).map_or(0, Vec::len)
    }

    /// Tells every open session of these users that their lists changed.
    /// Sends run in the background: a slow client never delays the change.
    pub fn lists_changed(&self, users: impl IntoIterator<Item = Uuid>) {
        let targets: Vec<Peer<RoleServer>> = {
            let mut peers = self.peers.lock().expect("notifier lock");
            let mut out = Vec::new();
            for user in users {
                if let Some(list) = peers.get_mut(&user) {
                    list.retain(|p| !p.is_transport_closed());
                    out.extend(list.iter().cloned());
                }
            }
            out
        };
        for peer in targets {
            tokio::spawn(async move {
                let _ = peer.notify_tool_list_changed().await;
                let _ = peer.notify_resource_list_changed().await;
            });
        }
    }

    /// Forgets sessions whose peers are closed.
    pub fn prune(&self) {
        let mut peers = self.peers.lock().expect("notifier lock");
        for list in peers.values_mut() {
            list.retain(|p| !p.is_transport_closed());
        }
        peers.retain(|_, list| !list.is_empty());
    }
}
