//! Change notifications to connected MCP clients: when a user's set of
//! tools, resources or prompts changes (install, uninstall, enable,
//! disable, a redeploy of a server they installed, or an upstream server's
//! own announcement), every one of their clients hears of it:
//!
//! - handshake-era sessions get `notifications/{tools,resources,prompts}/
//!   list_changed` on their session; a session is registered when the
//!   client completes the handshake and dropped once its peer is gone;
//! - 2026-07-28 clients, which have no session, get the same notifications
//!   on their open `subscriptions/listen` streams (rmcp's sink adds the
//!   subscription id); a stream is registered for as long as its request
//!   is open.
//!
//! Each registration remembers the credential it was opened with and the
//! installations its key was scoped to, and carries an `end` token: a
//! revoked key, an ended login, or an uninstalled or disabled installation
//! a key was scoped to ends the registrations (the front door closes the
//! session or the stream when the token fires).

// Logging is deprecated by SEP-2577 (2026-07-28), but 2025-11-25 clients
// use it: log messages are relayed to them.
#![allow(deprecated)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use rmcp::{
    Peer, RoleServer,
    model::{
        LoggingLevel, LoggingMessageNotificationParam, PromptListChangedNotification, ResourceListChangedNotification,
        ServerNotification, ToolListChangedNotification,
    },
    service::SubscriptionSink,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::identity::{AuthMethod, Principal};

enum Channel {
    Session(Peer<RoleServer>),
    Stream(SubscriptionSink),
}

struct Listener {
    id: u64,
    method: AuthMethod,
    /// The handshake-era session's id, so a repeated
    /// `notifications/initialized` does not register it twice.
    session: Option<Arc<str>>,
    /// The installations the key was scoped to, if it was.
    scope: Option<Vec<Uuid>>,
    channel: Channel,
    end: CancellationToken,
    /// The lowest level of log messages the session asked for
    /// (`logging/setLevel`); `None`: every message the server sends.
    level: Option<LoggingLevel>,
}

impl Listener {
    fn closed(&self) -> bool {
        self.end.is_cancelled() || matches!(&self.channel, Channel::Session(p) if p.is_transport_closed())
    }
}

#[derive(Default)]
pub struct Notifier {
    users: Mutex<HashMap<Uuid, Vec<Listener>>>,
    next: AtomicU64,
}

impl Notifier {
    fn listener(&self, principal: &Principal, session: Option<Arc<str>>, channel: Channel) -> Listener {
        Listener {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            method: principal.method,
            session,
            scope: principal.scope.as_ref().and_then(|s| s.installations.clone()),
            channel,
            end: CancellationToken::new(),
            level: None,
        }
    }

    /// A legacy session's `logging/setLevel`: what its log messages from
    /// outside calls are filtered by.
    pub fn set_level(&self, user: Uuid, session: &str, level: LoggingLevel) {
        if let Some(list) = self.users.lock().expect("notifier lock").get_mut(&user) {
            for l in list.iter_mut().filter(|l| l.session.as_deref() == Some(session)) {
                l.level = Some(level);
            }
        }
    }

    /// A log message an installation's upstream sent outside any call:
    /// every legacy session of its owner hears it, at or above the level
    /// the session set, unless the session's key is scoped away from the
    /// installation. (2026-07-28 clients get log messages only within the
    /// requests that ask for them.) Sent in the background.
    pub fn log(&self, user: Uuid, installation: Uuid, message: LoggingMessageNotificationParam) {
        let mut peers = Vec::new();
        if let Some(list) = self.users.lock().expect("notifier lock").get_mut(&user) {
            list.retain(|l| !l.closed());
            for l in list.iter() {
                let in_scope = l.scope.as_ref().is_none_or(|ids| ids.contains(&installation));
                if let (Channel::Session(peer), true, true) = (&l.channel, in_scope, at_least(message.level, l.level)) {
                    peers.push(peer.clone());
                }
            }
        }
        for peer in peers {
            let message = message.clone();
            tokio::spawn(async move {
                let _ = peer.notify_logging_message(message).await;
            });
        }
    }

    /// Remembers an initialized handshake-era session; the token fires when
    /// the session must end. `None` when this session is already
    /// registered (a client that repeats `notifications/initialized`).
    pub fn register(
        &self,
        principal: &Principal,
        peer: Peer<RoleServer>,
        session: Option<&str>,
    ) -> Option<CancellationToken> {
        let session: Option<Arc<str>> = session.map(Arc::from);
        let mut users = self.users.lock().expect("notifier lock");
        let list = users.entry(principal.user.id).or_default();
        if session.is_some() && list.iter().any(|l| l.session == session && !l.closed()) {
            return None;
        }
        let listener = self.listener(principal, session, Channel::Session(peer));
        let end = listener.end.clone();
        list.push(listener);
        Some(end)
    }

    /// Remembers an open `subscriptions/listen` stream, unless the user or
    /// the credential already has as many open as `caps` allows (the
    /// reason, then). The id forgets it, the token fires when the stream
    /// must end.
    pub fn listen(
        &self,
        principal: &Principal,
        sink: SubscriptionSink,
        caps: SessionCaps,
    ) -> Result<(u64, CancellationToken), String> {
        let mut users = self.users.lock().expect("notifier lock");
        let list = users.entry(principal.user.id).or_default();
        list.retain(|l| !l.closed());
        let streams = || list.iter().filter(|l| matches!(l.channel, Channel::Stream(_)));
        if streams().count() >= caps.per_user {
            return Err(format!("too many open listen streams for this account (the limit is {})", caps.per_user));
        }
        if streams().filter(|l| l.method == principal.method).count() >= caps.per_credential {
            return Err(format!(
                "too many open listen streams for this credential (the limit is {})",
                caps.per_credential
            ));
        }
        let listener = self.listener(principal, None, Channel::Stream(sink));
        let (id, end) = (listener.id, listener.end.clone());
        list.push(listener);
        Ok((id, end))
    }

    /// Forgets a stream whose request ended.
    pub fn stop_listening(&self, user: Uuid, id: u64) {
        if let Some(list) = self.users.lock().expect("notifier lock").get_mut(&user) {
            list.retain(|l| l.id != id);
        }
    }

    /// Open sessions and streams of a user (diagnostics, tests).
    pub fn sessions(&self, user: Uuid) -> usize {
        let users = self.users.lock().expect("notifier lock");
        users.get(&user).map_or(0, |list| list.iter().filter(|l| !l.closed()).count())
    }

    /// Ends every registration the predicate matches.
    fn end_where(&self, user: Option<Uuid>, matches: impl Fn(&Listener) -> bool) {
        let mut users = self.users.lock().expect("notifier lock");
        for (_, list) in users.iter_mut().filter(|(u, _)| user.is_none_or(|wanted| **u == wanted)) {
            list.retain(|l| {
                let ends = matches(l);
                if ends {
                    l.end.cancel();
                }
                !ends
            });
        }
    }

    /// Ends what was opened with a credential (a revoked key, an ended
    /// login session).
    pub fn end_credential(&self, user: Uuid, method: AuthMethod) {
        self.end_where(Some(user), |l| l.method == method);
    }

    /// Ends what a user opened with any login session (a password change).
    pub fn end_sessions_of(&self, user: Uuid) {
        self.end_where(Some(user), |l| matches!(l.method, AuthMethod::Session { .. }));
    }

    /// Ends what keys scoped to this installation opened (it was
    /// uninstalled or disabled).
    pub fn end_scoped_to(&self, user: Uuid, installation: Uuid) {
        self.end_where(Some(user), |l| l.scope.as_ref().is_some_and(|ids| ids.contains(&installation)));
    }

    /// Tells every open session and stream of these users that their lists
    /// changed. Sends run in the background: a slow client never delays
    /// the change.
    pub fn lists_changed(&self, users: impl IntoIterator<Item = Uuid>) {
        let (mut sessions, mut streams) = (Vec::new(), Vec::new());
        {
            let mut all = self.users.lock().expect("notifier lock");
            for user in users {
                if let Some(list) = all.get_mut(&user) {
                    list.retain(|l| !l.closed());
                    for l in list.iter() {
                        match &l.channel {
                            Channel::Session(peer) => sessions.push(peer.clone()),
                            Channel::Stream(sink) => streams.push(sink.clone()),
                        }
                    }
                }
            }
        }
        announce(sessions, streams);
    }

    /// Forgets registrations whose peers are closed.
    pub fn prune(&self) {
        let mut users = self.users.lock().expect("notifier lock");
        for list in users.values_mut() {
            list.retain(|l| !l.closed());
        }
        users.retain(|_, list| !list.is_empty());
    }
}

/// How many sessions and `subscriptions/listen` streams may be open at
/// once, per user and per credential (an API key, a login). The `/mcp`
/// door counts sessions against it, the notifier listen streams.
#[derive(Debug, Clone, Copy)]
pub struct SessionCaps {
    pub per_user: usize,
    pub per_credential: usize,
}

/// Sends `*/list_changed` to these sessions and streams, in the
/// background: a slow client never delays the change.
pub fn announce(sessions: Vec<Peer<RoleServer>>, streams: Vec<SubscriptionSink>) {
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

/// Whether a message at `level` passes a session's threshold.
fn at_least(level: LoggingLevel, threshold: Option<LoggingLevel>) -> bool {
    threshold.is_none_or(|t| level as u8 >= t as u8)
}

/// Delivers what installations' upstreams say outside calls to their
/// owners (see [`Notifier::log`]), for as long as the platform runs.
pub fn deliver_said(gateway: Arc<super::Gateway>, queue: crate::upstream::ChangeQueue) {
    tokio::spawn(async move {
        // An installation never changes owner: a chatty server costs one
        // lookup, not one per message.
        let mut owners: HashMap<Uuid, Uuid> = HashMap::new();
        loop {
            for said in queue.heard().await {
                let user = match owners.get(&said.installation) {
                    Some(user) => *user,
                    None => match gateway.db.installation_user(said.installation).await {
                        Ok(Some(user)) => {
                            if owners.len() >= 10_000 {
                                owners.clear();
                            }
                            owners.insert(said.installation, user);
                            user
                        }
                        // Uninstalled meanwhile: nobody to tell.
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not find who owns an installation; a log message dropped");
                            continue;
                        }
                    },
                };
                gateway.notifier.log(user, said.installation, said.log);
            }
        }
    });
}

/// What a `subscriptions/listen` stream is accepted for, on `/mcp` and in
/// `omnimcp connect`: every list change (the `/mcp` door adds resource
/// subscriptions).
pub fn list_changes() -> rmcp::model::SubscriptionFilter {
    let mut accepted = rmcp::model::SubscriptionFilter::new();
    accepted.tools_list_changed = Some(true);
    accepted.resources_list_changed = Some(true);
    accepted.prompts_list_changed = Some(true);
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_level_filters_log_messages() {
        assert!(at_least(LoggingLevel::Debug, None), "no level set: everything the server sends");
        assert!(at_least(LoggingLevel::Error, Some(LoggingLevel::Warning)));
        assert!(at_least(LoggingLevel::Warning, Some(LoggingLevel::Warning)));
        assert!(!at_least(LoggingLevel::Info, Some(LoggingLevel::Warning)));
        assert!(at_least(LoggingLevel::Emergency, Some(LoggingLevel::Emergency)));
        assert!(!at_least(LoggingLevel::Alert, Some(LoggingLevel::Emergency)));
    }
}
