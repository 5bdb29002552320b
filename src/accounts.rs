//! Account operations: register, log in, log out, profile, API keys.
//!
//! This is the one implementation both front doors use: the REST handlers
//! in `api.rs` and the pages' server functions (through `web.rs`). Input is
//! validated here, so both reject the same things with the same messages.

use std::net::IpAddr;

use app::model::{ApiKeyView, CreatedApiKey, TierView, UserView};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::{
    auth::{AuthMethod, Principal, api_key, password},
    db::{ApiKey, DbError, KeyScope, NewApiKey, Tier, User},
    error::{ApiError, ApiResult},
    state::AppState,
};

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Upper bound so nobody makes us hash a megabyte.
pub const MAX_PASSWORD_BYTES: usize = 256;
pub const MAX_KEY_NAME_CHARS: usize = 64;
/// Keys a user may hold at once.
pub const MAX_KEYS_PER_USER: usize = 50;

/// A new login: the user, the session token and when it expires.
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Normalises an email address (trimmed, lower-cased) and checks its shape:
/// one `@`, a local part of 1-64 characters, a domain with a dot whose
/// labels are letters, digits and inner hyphens; 254 characters at most.
pub fn normalize_email(raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_lowercase();
    let invalid = |why: &str| Err(ApiError::invalid("email", format!("{why}")));
    if email.is_empty() {
        return invalid("enter an email address");
    }
    if email.len() > 254 {
        return invalid("the email address is longer than 254 characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid("the email address needs an @");
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if !local_ok || !domain_ok {
        return invalid("that is not a valid email address");
    }
    Ok(email)
}

/// The password policy: 10 characters or more, at most 256 bytes, not made
/// of one repeated character, and not the email address itself.
pub fn check_password(password: &str, email: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    let invalid = |why: String| Err(ApiError::invalid("password", why));
    if chars < MIN_PASSWORD_CHARS {
        return invalid(format!("use at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return invalid(format!("use at most {MAX_PASSWORD_BYTES} bytes"));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return invalid("the password is one character repeated".into());
    }
    if password.eq_ignore_ascii_case(email) || email.split('@').next().is_some_and(|l| password.eq_ignore_ascii_case(l))
    {
        return invalid("the password must not be your email address".into());
    }
    Ok(())
}

/// Registers an account. Each registration that passes the checks counts
/// against the client address's hourly allowance before its password is
/// hashed.
pub async fn register(state: &AppState, email: &str, password: &str, client: Option<IpAddr>) -> ApiResult<SignedIn> {
    let email = normalize_email(email)?;
    check_password(password, &email)?;
    if let Some(client) = client {
        if let Err(wait) = state.registration_throttle.check_address(client) {
            return Err(ApiError::TooManyRequests {
                message: format!("too many accounts registered from your network; try again in {wait} seconds"),
                retry_after_secs: wait,
            });
        }
        state.registration_throttle.record_address(client);
    }
    let hash = password::hash(password.to_string()).await?;
    let user = match state.db.create_user(&email, &hash).await {
        Ok(user) => user,
        Err(DbError::Conflict) => {
            return Err(ApiError::Conflict {
                code: "email_taken",
                message: "an account with this email address already exists".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user_id = %user.id, role = %user.role, "user registered");
    start_session(state, user).await
}

/// Logs in. A wrong password and an unknown email get the same answer in
/// the same time; failures slow further attempts at the account and block
/// the address ([`crate::auth::throttle`]).
pub async fn login(state: &AppState, email: &str, password: &str, client: Option<IpAddr>) -> ApiResult<SignedIn> {
    // An address that is not an address cannot have an account: it gets the
    // generic answer too, after the same throttling.
    let email = email.trim().to_lowercase();
    match state.login_throttle.admit(&email, client) {
        Ok(wait) if wait.is_zero() => {}
        // Past the account's limit: this attempt waits its turn (the
        // owner's correct password still gets in, only slower).
        Ok(wait) => tokio::time::sleep(wait).await,
        Err(wait) => {
            return Err(ApiError::TooManyRequests {
                message: format!("too many failed logins; try again in {wait} seconds"),
                retry_after_secs: wait,
            });
        }
    }
    let creds = if password.len() > MAX_PASSWORD_BYTES { None } else { state.db.credentials_by_email(&email).await? };
    let ok = password::verify(password.to_string(), creds.as_ref().map(|c| c.password_hash.clone())).await?;
    match creds {
        Some(creds) if ok => {
            state.login_throttle.record_success(&email);
            start_session(state, creds.user).await
        }
        _ => {
            state.login_throttle.record_failure(&email, client);
            tracing::info!(client = ?client, "failed login");
            Err(ApiError::Unauthorized("the email address or password is incorrect".into()))
        }
    }
}

/// Changes the signed-in user's password: the current one must match, the
/// new one meets the registration policy. Every session of the user ends
/// (the database does it with the update, so a stolen session dies too),
/// with what they opened on `/mcp`; with `revoke_keys`, so does every API
/// key (what a thief who had the password may have made). The caller gets
/// a fresh session to stay signed in.
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: &str,
    new: &str,
    revoke_keys: bool,
) -> ApiResult<SignedIn> {
    let creds =
        if current.len() > MAX_PASSWORD_BYTES { None } else { state.db.credentials_by_email(&user.email).await? };
    let ok = password::verify(current.to_string(), creds.as_ref().map(|c| c.password_hash.clone())).await?;
    if !ok {
        tracing::info!(user_id = %user.id, "password change with a wrong current password");
        return Err(ApiError::invalid("current_password", "the current password is incorrect"));
    }
    check_password(new, &user.email).map_err(|e| match e {
        ApiError::InvalidField { message, .. } => ApiError::invalid("new_password", message),
        other => other,
    })?;
    let hash = password::hash(new.to_string()).await?;
    if !state.db.set_password_hash(user.id, &hash).await? {
        return Err(ApiError::NotFound("no such user".into()));
    }
    state.gateway.notifier.end_sessions_of(user.id);
    if revoke_keys {
        for key in state.db.revoke_all_api_keys(user.id).await? {
            credential_ended(state, user.id, AuthMethod::ApiKey { key_id: key }).await;
        }
    }
    tracing::info!(user_id = %user.id, keys_revoked = revoke_keys, "password changed; all sessions ended");
    start_session(state, user.clone()).await
}

async fn start_session(state: &AppState, user: User) -> ApiResult<SignedIn> {
    let now = Utc::now();
    let session = state.db.create_session(user.id, now + state.tokens.ttl).await?;
    let (token, expires_at) = state.tokens.issue(user.id, session, now);
    Ok(SignedIn { user, token, expires_at })
}

/// Ends the caller's session (API-key callers have none to end).
pub async fn logout(state: &AppState, principal: &Principal) -> ApiResult<()> {
    if let AuthMethod::Session { session_id } = principal.method {
        state.db.delete_session(session_id).await?;
        credential_ended(state, principal.user.id, principal.method).await;
    }
    Ok(())
}

/// Revokes an OAuth grant (`user`, when given, must own it): its tokens
/// stop working at once, and what they opened (MCP sessions, listen
/// streams, subscriptions) ends. False when there was no such live grant.
pub async fn end_grant(state: &AppState, grant_id: Uuid, user: Option<Uuid>) -> ApiResult<bool> {
    let Some(owner) = state.db.revoke_oauth_grant(grant_id, user).await? else { return Ok(false) };
    credential_ended(state, owner, AuthMethod::OAuth { grant_id }).await;
    tracing::info!(grant_id = %grant_id, user_id = %owner, "OAuth grant revoked");
    Ok(true)
}

/// What a credential opened ends with it: MCP sessions and listen streams,
/// resource subscriptions, cached lookups.
async fn credential_ended(state: &AppState, user: Uuid, method: AuthMethod) {
    let gateway = &state.gateway;
    if let AuthMethod::ApiKey { key_id } = method {
        gateway.caches.api_keys.remove_where(|_, cached| cached.0.id == key_id);
    }
    gateway.notifier.end_credential(user, method);
    gateway.upstreams.end_subscriptions_of(method).await;
}

pub async fn profile(state: &AppState, user: &User) -> ApiResult<UserView> {
    let tier = state
        .db
        .tier(&user.subscription_tier)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {} has unknown tier {}", user.id, user.subscription_tier))?;
    Ok(user_view(user, &tier))
}

pub async fn list_keys(state: &AppState, user: &User) -> ApiResult<Vec<ApiKeyView>> {
    Ok(state.db.list_api_keys(user.id).await?.iter().map(key_view).collect())
}

pub async fn create_key(
    state: &AppState,
    user: &User,
    name: &str,
    scope: Option<KeyScope>,
) -> ApiResult<CreatedApiKey> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "give the key a name, e.g. the client that will use it"));
    }
    if name.chars().count() > MAX_KEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", format!("use at most {MAX_KEY_NAME_CHARS} printable characters")));
    }
    if state.db.list_api_keys(user.id).await?.len() >= MAX_KEYS_PER_USER {
        return Err(ApiError::invalid("name", format!("you already have {MAX_KEYS_PER_USER} keys; revoke one first")));
    }
    if let Some(scope) = &scope {
        if scope.unprefixed && scope.installations.as_ref().is_none_or(|ids| ids.len() != 1) {
            return Err(ApiError::invalid(
                "scope.unprefixed",
                "names can go without their server prefix only for a key scoped to exactly one installation",
            ));
        }
        for (i, id) in scope.installations.iter().flatten().enumerate() {
            if state.db.installation(user.id, *id).await?.is_none() {
                return Err(ApiError::invalid(&format!("scope.installations[{i}]"), "not one of your installations"));
            }
        }
        for (i, tool) in scope.tools.iter().flatten().enumerate() {
            let ok = tool.split_once('.').is_some_and(|(slug, name)| !slug.is_empty() && !name.is_empty())
                && tool.len() <= 64;
            if !ok {
                return Err(ApiError::invalid(
                    &format!("scope.tools[{i}]"),
                    "use the tool's public name, `server.tool`",
                ));
            }
        }
    }
    let generated = api_key::generate();
    let created = state
        .db
        .create_api_key(
            NewApiKey {
                scope: scope.as_ref(),
                user_id: user.id,
                name,
                prefix: &generated.display_prefix,
                key_hash: &generated.hash,
            },
            MAX_LIVE_API_KEYS,
        )
        .await;
    let key = match created {
        Ok(key) => key,
        Err(DbError::LimitReached) => {
            return Err(ApiError::Forbidden(format!(
                "an account can have {MAX_LIVE_API_KEYS} API keys; revoke one you no longer use first"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user_id = %user.id, key_id = %key.id, "API key created");
    Ok(CreatedApiKey { meta: key_view(&key), key: generated.text })
}

/// API keys (not revoked) one account may hold.
pub const MAX_LIVE_API_KEYS: i64 = 100;

pub async fn revoke_key(state: &AppState, user: &User, key_id: &str) -> ApiResult<()> {
    let not_found = || ApiError::NotFound("no such API key".into());
    let id = Uuid::parse_str(key_id).map_err(|_| not_found())?;
    if state.db.revoke_api_key(user.id, id).await? {
        credential_ended(state, user.id, AuthMethod::ApiKey { key_id: id }).await;
        tracing::info!(user_id = %user.id, key_id = %id, "API key revoked");
        Ok(())
    } else {
        Err(not_found())
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn tier_view(t: &Tier) -> TierView {
    TierView {
        id: t.id.clone(),
        name: t.name.clone(),
        requests_per_minute: t.requests_per_minute,
        requests_per_month: t.requests_per_month,
        max_installations: t.max_installations,
        can_publish: t.can_publish,
        max_servers: t.max_servers,
    }
}

pub fn user_view(u: &User, tier: &Tier) -> UserView {
    UserView {
        id: u.id.to_string(),
        email: u.email.clone(),
        role: u.role.clone(),
        tier: tier_view(tier),
        created_at: rfc3339(u.created_at),
    }
}

fn key_view(k: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: k.id.to_string(),
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        created_at: rfc3339(k.created_at),
        last_used_at: k.last_used_at.map(rfc3339),
        scope: k.scope.as_ref().and_then(|s| serde_json::to_value(&s.0).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        assert_eq!(normalize_email("a.b+tag@mail.example.co.uk").unwrap(), "a.b+tag@mail.example.co.uk");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a..b@example.com",
            "ada@-x.com",
            "ada@exa mple.com",
            "ada@example.c0m",
            "ad a@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_password("correct horse", "a@b.io").is_ok());
        assert!(check_password("short", "a@b.io").is_err());
        assert!(check_password("aaaaaaaaaaaa", "a@b.io").is_err());
        assert!(check_password("ada.lovelace@x.io", "ada.lovelace@x.io").is_err());
        assert!(check_password(&"x1".repeat(200), "a@b.io").is_err());
    }
}
