//! The accounts REST API against the real server on 127.0.0.1:0, each
//! scenario on SQLite and (when `OMNIMCP_TEST_POSTGRES_URL` is set, as in
//! CI) on PostgreSQL.

mod common;

use chrono::{Duration, Utc};
use common::{TestServer, expect_error};
use omnimcp::auth::token::TokenSigner;
use reqwest::header;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

on_both_databases!(flags: &[];     account_and_key_lifecycle,
    first_user_is_admin_and_tiers_default_to_free,
    duplicate_email_is_a_conflict,
    wrong_password_and_unknown_email_look_alike,
    bad_bodies_get_precise_errors,
    invalid_fields_are_named,
    expired_and_foreign_tokens_are_refused,
    logout_ends_the_session,
    login_is_throttled_per_account,
    keys_are_private_to_their_owner,
    browser_session_cookie_and_renewal,
    password_change_checks_and_ends_sessions,
);

async fn account_and_key_lifecycle(s: TestServer) {
    // Register: the token comes back, and the browser cookie is HttpOnly, Lax.
    let res =
        s.post_json("/api/auth/register", json!({"email": "  Ada@Example.com ", "password": PASSWORD}), None).await;
    assert_eq!(res.status(), 201);
    let cookie = res.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("omni_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain-http deployments must not set Secure: {cookie}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");

    // Log in, then `me` with the session token.
    let res = s.post_json("/api/auth/login", json!({"email": "ADA@example.com", "password": PASSWORD}), None).await;
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let me: Value = s.get("/api/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["tier"]["id"], "free");

    // Create a key: shown once, `omni_` + 43 characters.
    let res = s.post_json("/api/keys", json!({"name": "Claude Desktop"}), Some(&token)).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("omni_") && key.len() == 48, "{key}");
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    // The key works as a bearer credential everywhere.
    let res = s.get("/api/me", Some(&key)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["email"], "ada@example.com");

    // Lists show name, prefix, dates, never the key; last use is recorded.
    let list: Value = s.get("/api/keys", Some(&key)).await.json().await.unwrap();
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "Claude Desktop");
    assert!(keys[0]["lastUsedAt"].is_string(), "{list}");
    assert!(!list.to_string().contains(&key), "a list must never contain the key");

    // Revoke: the key is refused from then on.
    let res = s.client.delete(s.at(&format!("/api/keys/{key_id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let body = expect_error(s.get("/api/me", Some(&key)).await, 401, "unauthorized").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"));
    let res = s.client.delete(s.at(&format!("/api/keys/{key_id}"))).bearer_auth(&token).send().await.unwrap();
    expect_error(res, 404, "not_found").await;
    // Only a hash is stored: the key text is nowhere in the database.
    assert!(s.state.db.api_key_by_hash(key.as_bytes()).await.unwrap().is_none());
}

async fn first_user_is_admin_and_tiers_default_to_free(s: TestServer) {
    let first = s.register("root@example.com", PASSWORD).await;
    let second = s.register("user@example.com", PASSWORD).await;
    let me1: Value = s.get("/api/me", Some(&first)).await.json().await.unwrap();
    let me2: Value = s.get("/api/me", Some(&second)).await.json().await.unwrap();
    assert_eq!(me1["role"], "admin");
    assert_eq!(me2["role"], "user");
    assert_eq!(me2["tier"]["id"], "free");
    assert_eq!(me2["tier"]["canPublish"], true, "free users can try publishing");
    assert!(me2["tier"]["requestsPerMinute"].as_i64().unwrap() > 0);
}

async fn duplicate_email_is_a_conflict(s: TestServer) {
    s.register("dup@example.com", PASSWORD).await;
    let res = s.post_json("/api/auth/register", json!({"email": "DUP@example.com", "password": PASSWORD}), None).await;
    expect_error(res, 409, "email_taken").await;
}

async fn wrong_password_and_unknown_email_look_alike(s: TestServer) {
    s.register("known@example.com", PASSWORD).await;
    let wrong = s
        .post_json("/api/auth/login", json!({"email": "known@example.com", "password": "not the password"}), None)
        .await;
    let wrong = expect_error(wrong, 401, "unauthorized").await;
    let unknown = s
        .post_json("/api/auth/login", json!({"email": "nobody@example.com", "password": "not the password"}), None)
        .await;
    let unknown = expect_error(unknown, 401, "unauthorized").await;
    assert_eq!(wrong, unknown);
}

async fn bad_bodies_get_precise_errors(s: TestServer) {
    let raw = |body: &'static str, ctype: &'static str| {
        s.client.post(s.at("/api/auth/register")).header(header::CONTENT_TYPE, ctype).body(body).send()
    };
    expect_error(raw("{\"email\": ", "application/json").await.unwrap(), 400, "malformed_request").await;
    expect_error(raw("email=a", "application/x-www-form-urlencoded").await.unwrap(), 415, "unsupported_media_type")
        .await;
    let big = "x".repeat(200 * 1024);
    let res = s.post_json("/api/auth/register", json!({"email": "a@example.com", "password": big}), None).await;
    expect_error(res, 413, "payload_too_large").await;
    let body = expect_error(
        s.post_json("/api/auth/register", json!({"email": "a@example.com"}), None).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(body["error"]["field"], "password");
    let body = expect_error(
        s.post_json("/api/auth/register", json!({"email": 42, "password": PASSWORD}), None).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(body["error"]["field"], "email");
    // Unknown endpoints answer in the same shape.
    expect_error(s.get("/api/nope", None).await, 404, "not_found").await;
    // Nothing was written by any of the above.
    assert!(s.state.db.list_users().await.unwrap().is_empty());
}

async fn invalid_fields_are_named(s: TestServer) {
    for (email, password, field) in [
        ("not-an-email", PASSWORD, "email"),
        ("a@example", PASSWORD, "email"),
        ("a@example.com", "short", "password"),
        ("a@example.com", "aaaaaaaaaaaaaaa", "password"),
    ] {
        let res = s.post_json("/api/auth/register", json!({"email": email, "password": password}), None).await;
        let body = expect_error(res, 422, "invalid_field").await;
        assert_eq!(body["error"]["field"], field, "{email} / {password}");
    }
    let token = s.register("k@example.com", PASSWORD).await;
    let body =
        expect_error(s.post_json("/api/keys", json!({"name": "  "}), Some(&token)).await, 422, "invalid_field").await;
    assert_eq!(body["error"]["field"], "name");
}

async fn expired_and_foreign_tokens_are_refused(s: TestServer) {
    let token = s.register("t@example.com", PASSWORD).await;
    let claims = s.state.tokens.verify(&token).unwrap();
    // Same key, same live session, but issued long enough ago to have expired.
    let (expired, _) = s.state.tokens.issue(claims.sub, claims.sid, Utc::now() - Duration::days(30));
    let body = expect_error(s.get("/api/me", Some(&expired)).await, 401, "unauthorized").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"));
    // A well-formed token signed with another key.
    let forged = TokenSigner::new(&[9u8; 64], Duration::hours(1)).issue(claims.sub, claims.sid, Utc::now()).0;
    let res = s.get("/api/me", Some(&forged)).await;
    assert_eq!(res.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer realm=\"omnimcp\"");
    expect_error(res, 401, "unauthorized").await;
    expect_error(s.get("/api/me", Some("garbage")).await, 401, "unauthorized").await;
    let res = s.client.get(s.at("/api/me")).header(header::AUTHORIZATION, "Basic abc").send().await.unwrap();
    expect_error(res, 401, "unauthorized").await;
    expect_error(s.get("/api/me", None).await, 401, "unauthorized").await;
}

async fn logout_ends_the_session(s: TestServer) {
    let token = s.register("out@example.com", PASSWORD).await;
    let res = s.post_json("/api/auth/logout", json!({}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    assert!(res.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    let body = expect_error(s.get("/api/me", Some(&token)).await, 401, "unauthorized").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("ended"));
}

/// Anyone can fail to log in as anyone: past five failures the account's
/// attempts are slowed one after another (so guessing gets no faster with
/// more connections), but the owner's correct password still gets in.
async fn login_is_throttled_per_account(s: TestServer) {
    s.register("victim@example.com", PASSWORD).await;
    let attempt = |password: &'static str| {
        s.post_json("/api/auth/login", json!({"email": "victim@example.com", "password": password}), None)
    };
    for _ in 0..5 {
        expect_error(attempt("wrong guess").await, 401, "unauthorized").await;
    }
    // Two guesses at once past the limit: they are answered one after
    // the other, a slot (1 s, then 2 s) apart.
    let (a, b) = tokio::join!(
        async {
            let r = attempt("wrong guess").await;
            (r.status(), std::time::Instant::now())
        },
        async {
            let r = attempt("another guess").await;
            (r.status(), std::time::Instant::now())
        }
    );
    assert_eq!((a.0.as_u16(), b.0.as_u16()), (401, 401));
    assert!(a.1.max(b.1) - a.1.min(b.1) >= std::time::Duration::from_millis(900), "the guesses ran concurrently");
    // Not locked: the right password gets in, later rather than never.
    let res = attempt(PASSWORD).await;
    assert_eq!(res.status(), 200);
    // Other accounts are not locked by it.
    s.register("bystander@example.com", PASSWORD).await;
    let res =
        s.post_json("/api/auth/login", json!({"email": "bystander@example.com", "password": PASSWORD}), None).await;
    assert_eq!(res.status(), 200);
}

async fn keys_are_private_to_their_owner(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (alice_key_id, alice_key) = s.create_key(&alice, "alice's").await;
    let bobs: Value = s.get("/api/keys", Some(&bob)).await.json().await.unwrap();
    assert_eq!(bobs["keys"].as_array().unwrap().len(), 0);
    let res = s.client.delete(s.at(&format!("/api/keys/{alice_key_id}"))).bearer_auth(&bob).send().await.unwrap();
    expect_error(res, 404, "not_found").await;
    assert_eq!(s.get("/api/me", Some(&alice_key)).await.status(), 200, "Bob could not revoke it");
    let res = s.client.delete(s.at("/api/keys/not-a-uuid")).bearer_auth(&bob).send().await.unwrap();
    expect_error(res, 404, "not_found").await;
}

async fn browser_session_cookie_and_renewal(s: TestServer) {
    let token = s.register("c@example.com", PASSWORD).await;
    let with_cookie =
        |t: &str| s.client.get(s.at("/api/me")).header(header::COOKIE, format!("omni_session={t}")).send();
    let res = with_cookie(&token).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(header::SET_COOKIE).is_none(), "a fresh token is not renewed");

    // A token past half its life is renewed with a new cookie.
    let claims = s.state.tokens.verify(&token).unwrap();
    let ttl = s.state.tokens.ttl;
    let (old, _) = s.state.tokens.issue(claims.sub, claims.sid, Utc::now() - ttl * 3 / 4);
    let res = with_cookie(&old).await.unwrap();
    assert_eq!(res.status(), 200);
    let renewed = res.headers().get(header::SET_COOKIE).expect("renewed cookie").to_str().unwrap().to_string();
    let new_token = renewed.strip_prefix("omni_session=").unwrap().split(';').next().unwrap();
    let new_claims = s.state.tokens.verify(new_token).unwrap();
    assert_eq!(new_claims.sid, claims.sid);
    assert!(new_claims.exp > claims.exp - 1);
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let s = TestServer::start_on_with(common::Backend::Sqlite, &["--registrations-per-hour", "3"]).await.unwrap();
    for i in 0..3 {
        s.register(&format!("user{i}@example.com"), PASSWORD).await;
    }
    // A refused form (invalid email) did not count, the fourth account does not get in.
    let bad = s.post_json("/api/auth/register", json!({"email": "nope", "password": PASSWORD}), None).await;
    expect_error(bad, 422, "invalid_field").await;
    let res =
        s.post_json("/api/auth/register", json!({"email": "user3@example.com", "password": PASSWORD}), None).await;
    let retry: u64 = res.headers().get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry), "{retry}");
    let body = expect_error(res, 429, "rate_limited").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("too many accounts"), "{body}");
    // Nothing was written, and existing accounts still log in.
    let login = s.post_json("/api/auth/login", json!({"email": "user3@example.com", "password": PASSWORD}), None).await;
    expect_error(login, 401, "unauthorized").await;
    let login = s.post_json("/api/auth/login", json!({"email": "user0@example.com", "password": PASSWORD}), None).await;
    assert_eq!(login.status(), 200);
}

#[tokio::test]
async fn health_probes() {
    let s = TestServer::start().await;
    let res = s.get("/healthz", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-request-id").is_some(), "every response carries a request id");
    let ready: Value = s.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "sqlite");
    s.state.db.close().await;
    assert_eq!(s.get("/readyz", None).await.status(), 503, "a closed database is not ready");
}

#[tokio::test]
async fn keys_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let s = TestServer::start_with(&data, &db, &[]).await;
    let token = s.register("persist@example.com", PASSWORD).await;
    s.stop().await;
    // The generated key files are owner-only and reused: the old token still verifies.
    use std::os::unix::fs::PermissionsExt;
    for file in ["jwt.key", "master.key"] {
        let mode = std::fs::metadata(data.join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let s = TestServer::start_with(&data, &db, &[]).await;
    assert_eq!(s.get("/api/me", Some(&token)).await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn https_public_url_makes_cookies_secure() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let s = TestServer::start_with(&dir.path().join("data"), &db, &["--public-url", "https://omni.example.com/"]).await;
    let res = s.post_json("/api/auth/register", json!({"email": "s@example.com", "password": PASSWORD}), None).await;
    assert!(res.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("; Secure"));
    assert_eq!(s.state.public_url, "https://omni.example.com");
}

#[tokio::test]
async fn admin_command_changes_role_and_tier() {
    let s = TestServer::start().await;
    s.register("first@example.com", PASSWORD).await;
    let token = s.register("second@example.com", PASSWORD).await;
    let admin = |args: &[&str]| s.admin(args);
    let out = admin(&["set-user", "--email", "Second@example.com", "--role", "admin", "--tier", "pro"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let me: Value = s.get("/api/me", Some(&token)).await.json().await.unwrap();
    assert_eq!((me["role"].as_str(), me["tier"]["id"].as_str()), (Some("admin"), Some("pro")));

    let out = admin(&["set-user", "--email", "second@example.com", "--tier", "platinum"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tier"));
    let out = admin(&["set-user", "--email", "nobody@example.com", "--role", "admin"]);
    assert!(!out.status.success());
    let out = admin(&["users"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("first@example.com") && listing.contains("second@example.com"));
}

#[tokio::test]
async fn pages_render_and_gate() {
    let s = TestServer::start().await;
    let res = s.get("/login", None).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Log in") && html.contains("name=\"email\""), "login form rendered on the server");
    // Signed-in pages send anonymous visitors to the login page.
    let page = |path: &str| s.client.get(s.at(path)).header(header::ACCEPT, "text/html").send();
    let res = page("/settings").await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/login");
    assert_eq!(page("/no-such-page").await.unwrap().status(), 404);
    // With a session cookie the settings page renders the user's data.
    let token = s.register("page@example.com", PASSWORD).await;
    let res =
        s.client.get(s.at("/settings")).header(header::COOKIE, format!("omni_session={token}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("page@example.com"));
}

async fn password_change_checks_and_ends_sessions(s: TestServer) {
    let token = s.register("pw@example.com", PASSWORD).await;
    let other = s
        .post_json("/api/auth/login", json!({"email": "pw@example.com", "password": PASSWORD}), None)
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let change = |current: &str, new: &str| json!({"currentPassword": current, "newPassword": new});
    let (_, kept) = s.create_key(&token, "kept").await;

    // A wrong current password is a field error and changes nothing.
    let body = expect_error(
        s.post_json("/api/me/password", change("not my password", "a new long password"), Some(&token)).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(body["error"]["field"], "current_password");
    // A weak new password gets the registration policy's answer.
    let body = expect_error(
        s.post_json("/api/me/password", change(PASSWORD, "short"), Some(&token)).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(body["error"]["field"], "new_password");
    assert_eq!(s.get("/api/me", Some(&other)).await.status(), 200, "failed attempts end no session");

    // Success: 204 with a fresh cookie; every old session ends.
    let res = s.post_json("/api/me/password", change(PASSWORD, "a new long password"), Some(&token)).await;
    assert_eq!(res.status(), 204);
    let cookie = res.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with("omni_session="), "{cookie}");
    let fresh = cookie.trim_start_matches("omni_session=").split(';').next().unwrap().to_string();
    assert_eq!(s.get("/api/me", Some(&fresh)).await.status(), 200);
    expect_error(s.get("/api/me", Some(&other)).await, 401, "unauthorized").await;
    expect_error(s.get("/api/me", Some(&token)).await, 401, "unauthorized").await;

    // The old password no longer logs in; the new one does.
    let old = s.post_json("/api/auth/login", json!({"email": "pw@example.com", "password": PASSWORD}), None).await;
    expect_error(old, 401, "unauthorized").await;
    let new = s
        .post_json("/api/auth/login", json!({"email": "pw@example.com", "password": "a new long password"}), None)
        .await;
    assert_eq!(new.status(), 200);

    // Keys survive a change unless it asks otherwise; then every one ends.
    assert_eq!(s.get("/api/me", Some(&kept)).await.status(), 200, "keys are kept by default here");
    let (_, second) = s.create_key(&fresh, "second").await;
    let revoke = json!({"currentPassword": "a new long password", "newPassword": "a third long password",
                        "revokeApiKeys": true});
    assert_eq!(s.post_json("/api/me/password", revoke, Some(&kept)).await.status(), 204);
    for key in [&kept, &second] {
        expect_error(s.get("/api/me", Some(key)).await, 401, "unauthorized").await;
    }
    assert!(s.get("/api/keys", Some(&fresh)).await.status() == 401, "the session ended too");
}
