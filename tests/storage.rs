//! The storage contract: one story through every storage function, run
//! against SQLite always and PostgreSQL when `OMNIMCP_TEST_POSTGRES_URL` is
//! set. Both engines must tell the same story.

mod common;

use chrono::{Duration, Utc};
use common::{Backend, fresh_database};
use omnimcp::db::{Db, DbError, NewApiKey};
use sha2::{Digest, Sha256};

async fn story(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database(backend, &dir).await else {
        eprintln!("skipped {backend:?}: OMNIMCP_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = Db::connect(&url).await.unwrap();
    // Migrating twice is a no-op.
    let db2 = Db::connect(&url).await.unwrap();
    db2.close().await;
    db.ping().await.unwrap();

    // Tiers are seeded data, cheapest first.
    let tiers = db.list_tiers().await.unwrap();
    assert_eq!(tiers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["free", "pro", "enterprise"]);
    assert!(tiers.iter().all(|t| t.can_publish));
    assert!(tiers[0].requests_per_minute < tiers[1].requests_per_minute);
    assert_eq!(db.tier("pro").await.unwrap().unwrap(), tiers[1]);
    assert!(db.tier("platinum").await.unwrap().is_none());

    // Users: the first is the administrator; email is unique.
    let ada = db.create_user("ada@example.com", "$argon2id$hash-a").await.unwrap();
    let bob = db.create_user("bob@example.com", "$argon2id$hash-b").await.unwrap();
    assert_eq!((ada.role.as_str(), bob.role.as_str()), ("admin", "user"));
    assert_eq!(bob.subscription_tier, "free");
    assert!(matches!(db.create_user("bob@example.com", "x").await, Err(DbError::Conflict)));
    assert_eq!(db.user_by_id(ada.id).await.unwrap().unwrap(), ada);
    assert_eq!(db.user_by_email("bob@example.com").await.unwrap().unwrap(), bob);
    assert!(db.user_by_email("carol@example.com").await.unwrap().is_none());
    let creds = db.credentials_by_email("ada@example.com").await.unwrap().unwrap();
    assert_eq!((creds.user.id, creds.password_hash.as_str()), (ada.id, "$argon2id$hash-a"));
    let all = db.list_users().await.unwrap();
    assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), [ada.id, bob.id]);

    // Role and tier changes; unknown tiers and users are told apart.
    let bob = db.update_user(bob.id, None, Some("pro")).await.unwrap().unwrap();
    assert_eq!((bob.role.as_str(), bob.subscription_tier.as_str()), ("user", "pro"));
    let bob = db.update_user(bob.id, Some("admin"), None).await.unwrap().unwrap();
    assert_eq!((bob.role.as_str(), bob.subscription_tier.as_str()), ("admin", "pro"));
    assert!(matches!(db.update_user(bob.id, None, Some("platinum")).await, Err(DbError::MissingReference)));
    assert_eq!(
        db.user_by_id(bob.id).await.unwrap().unwrap().subscription_tier,
        "pro",
        "a failed update changes nothing"
    );
    assert!(db.update_user(uuid::Uuid::now_v7(), Some("user"), None).await.unwrap().is_none());

    // Sessions: live, extended, ended, expired.
    let now = Utc::now();
    let s1 = db.create_session(ada.id, now + Duration::hours(1)).await.unwrap();
    let s2 = db.create_session(ada.id, now + Duration::hours(1)).await.unwrap();
    let old = db.create_session(bob.id, now - Duration::minutes(1)).await.unwrap();
    assert_eq!(db.session_user(s1).await.unwrap().unwrap().id, ada.id);
    assert!(db.session_user(old).await.unwrap().is_none(), "expired sessions do not authenticate");
    assert!(db.extend_session(s1, now + Duration::hours(2)).await.unwrap());
    assert!(db.delete_session(s2).await.unwrap());
    assert!(!db.delete_session(s2).await.unwrap());
    assert!(db.session_user(s2).await.unwrap().is_none());
    assert_eq!(db.delete_expired_sessions(now).await.unwrap(), 1);
    assert!(db.session_user(s1).await.unwrap().is_some());

    // A password change ends every session of that user.
    assert!(db.set_password_hash(ada.id, "$argon2id$hash-a2").await.unwrap());
    assert!(db.session_user(s1).await.unwrap().is_none());
    assert_eq!(db.credentials_by_email("ada@example.com").await.unwrap().unwrap().password_hash, "$argon2id$hash-a2");

    // API keys: stored as hashes, listed without them, used, revoked.
    let hash: [u8; 32] = Sha256::digest(b"omni_test-key").into();
    let key = db
        .create_api_key(
            NewApiKey { scope: None, user_id: ada.id, name: "laptop", prefix: "omni_test-ke", key_hash: &hash },
            100,
        )
        .await
        .unwrap();
    assert!(key.last_used_at.is_none());
    assert!(matches!(
        db.create_api_key(
            NewApiKey { scope: None, user_id: bob.id, name: "dup", prefix: "omni_test-ke", key_hash: &hash },
            100
        )
        .await,
        Err(DbError::Conflict)
    ));
    let (found, stored, owner) = db.api_key_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!((found.id, owner.id, stored.as_slice()), (key.id, ada.id, hash.as_slice()));
    assert!(found.last_used_at.is_some(), "use is recorded");
    let listed = db.list_api_keys(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "laptop");
    assert!(listed[0].last_used_at.is_some());
    assert!(db.list_api_keys(bob.id).await.unwrap().is_empty());
    assert!(!db.revoke_api_key(bob.id, key.id).await.unwrap(), "only the owner revokes");
    assert!(db.revoke_api_key(ada.id, key.id).await.unwrap());
    assert!(!db.revoke_api_key(ada.id, key.id).await.unwrap());
    assert!(db.api_key_by_hash(&hash).await.unwrap().is_none());
    assert!(db.list_api_keys(ada.id).await.unwrap().is_empty());

    // A scoped key keeps its scope.
    let scope = omnimcp::db::KeyScope {
        installations: None,
        tools: Some(vec!["calculator.evaluate".into()]),
        unprefixed: false,
    };
    let scoped_hash: [u8; 32] = Sha256::digest(b"omni_scoped").into();
    let scoped = db
        .create_api_key(
            NewApiKey {
                scope: Some(&scope),
                user_id: ada.id,
                name: "scoped",
                prefix: "omni_scoped",
                key_hash: &scoped_hash,
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(scoped.scope.as_ref().map(|s| &s.0), Some(&scope));
    let (found, _, _) = db.api_key_by_hash(&scoped_hash).await.unwrap().unwrap();
    assert_eq!(found.scope.map(|s| s.0), Some(scope));

    // A server's items, skills among them, are written and replaced whole.
    let skill = |uri: &str| omnimcp::db::SkillRecord {
        uri: uri.to_string(),
        entry: sqlx::types::Json(serde_json::json!({"uri": uri, "frontmatter": {"name": "x"}, "resources": "dynamic"})),
    };
    let draft = omnimcp::db::ServerDraft {
        id: uuid::Uuid::now_v7(),
        owner_id: None,
        name: "Skills".into(),
        slug: "skills".into(),
        description: String::new(),
        category: "other".into(),
        tags: vec![],
        version: "1".into(),
        hosting_type: app::domain::HostingType::RemoteMcp,
        launch_spec: None,
        config_schema: None,
        callback_url: None,
        webhook_secret_enc: None,
        remote_url: Some("https://example.com/mcp".into()),
        remote_headers_enc: None,
        remote_auth: None,
        builder_definition: None,
        builder_secrets_enc: None,
        call_timeout_secs: None,
        items: omnimcp::db::ServerItems {
            skills: vec![skill("skill://b/x/SKILL.md"), skill("skill://a/x/SKILL.md")],
            ..Default::default()
        },
    };
    let server = db.upsert_server(&draft).await.unwrap().id;
    let stored = db.server_skills(server).await.unwrap();
    assert_eq!(stored, [skill("skill://a/x/SKILL.md"), skill("skill://b/x/SKILL.md")], "by URI, entries intact");
    let items = omnimcp::db::ServerItems { skills: vec![skill("skill://c/x/SKILL.md")], ..Default::default() };
    db.replace_items(server, &items).await.unwrap();
    assert_eq!(db.server_skills(server).await.unwrap(), items.skills);

    db.close().await;
}

#[tokio::test]
async fn storage_contract_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn storage_contract_postgres() {
    story(Backend::Postgres).await;
}
