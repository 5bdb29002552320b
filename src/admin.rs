//! `omnimcp admin`: user administration from the command line, straight
//! against the database (so it works whether or not a server is running).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::{
    config::{AddServerArgs, AdminCommand, Config},
    db::{Db, DbError, ROLES, ServerDraft},
    gateway::registry::compile_schema,
    servers::valid_name,
    upstream::LaunchSpec,
};
use app::domain::HostingType;

/// Registers a platform-hosted server after starting it once to list its
/// tools (so a command that does not speak MCP is refused here, not at the
/// first user's call).
async fn add_server(db: &Db, config: &Config, a: AddServerArgs) -> anyhow::Result<()> {
    if !valid_name(&a.slug) || a.slug.chars().any(|c| c.is_ascii_uppercase()) {
        anyhow::bail!("the slug must be 1-64 characters of a-z, 0-9, '_' and '-'");
    }
    let mut env = HashMap::new();
    for pair in &a.env_from_config {
        let (var, field) =
            pair.split_once('=').ok_or_else(|| anyhow::anyhow!("--env-from-config takes VAR=field, got {pair:?}"))?;
        env.insert(var.to_string(), field.to_string());
    }
    let schema: Option<Value> = a.config_schema.as_deref().map(serde_json::from_str).transpose()?;
    if let Some(schema) = &schema {
        compile_schema(schema).map_err(|e| anyhow::anyhow!("the config schema is not a valid JSON Schema: {e}"))?;
    }
    let sample: Map<String, Value> = serde_json::from_str(&a.sample_config)?;
    let launch =
        LaunchSpec { command: a.command, args: a.args, env_from_config: env, shareable: a.shareable, connect: None };
    let id = match db.server_by_slug(&a.slug).await? {
        Some(existing) if existing.owner_id.is_some() => {
            anyhow::bail!("the slug {} belongs to a developer's server", a.slug)
        }
        Some(existing) => existing.id,
        None => uuid::Uuid::now_v7(),
    };
    // Discovered in the same sandbox the platform runs it in.
    let supervisor = crate::supervisor(config, None)?;
    let catalog = supervisor
        .discover(id, &launch, &sample)
        .await
        .map_err(|e| anyhow::anyhow!("could not list the server's tools: {e}"))?;
    supervisor.stop_all().await;
    let draft = ServerDraft {
        id,
        owner_id: None,
        name: a.name,
        slug: a.slug.clone(),
        description: a.description,
        category: a.category,
        tags: vec![],
        version: "1.0.0".into(),
        hosting_type: HostingType::PlatformHosted,
        launch_spec: Some(serde_json::to_value(&launch)?),
        config_schema: schema,
        callback_url: None,
        webhook_secret_enc: None,
        remote_url: None,
        remote_headers_enc: None,
        remote_auth: None,
        builder_definition: None,
        builder_secrets_enc: None,
        call_timeout_secs: a.call_timeout_secs.map(|s| s as i64),
        items: crate::servers::items_from_catalog(&catalog),
    };
    db.upsert_server(&draft).await?;
    let names: Vec<&str> = draft.items.tools.iter().map(|t| t.name.as_str()).collect();
    println!("{}: platform-hosted server {id} with tools: {}", a.slug, names.join(", "));
    println!("A running platform serves a new server at once; restart it after changing an existing one.");
    Ok(())
}

pub async fn run(db: &Db, config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::AddServer(args) => add_server(db, config, args).await?,
        AdminCommand::Users => {
            println!("{:<38} {:<32} {:<6} {}", "id", "email", "role", "tier");
            for u in db.list_users().await? {
                println!("{:<38} {:<32} {:<6} {}", u.id, u.email, u.role, u.subscription_tier);
            }
        }
        AdminCommand::OauthClient { name, redirect_uris, confidential } => {
            let (id, secret) = crate::oauth::clients::preregister(db, &name, redirect_uris, confidential).await?;
            println!("client_id: {id}");
            if let Some(secret) = secret {
                println!("client_secret: {secret}");
                println!("(the secret is shown once; only its hash is stored)");
            }
        }
        AdminCommand::SetUser { email, role, tier } => {
            if role.is_none() && tier.is_none() {
                anyhow::bail!("nothing to change: pass --role and/or --tier");
            }
            if let Some(role) = &role {
                if !ROLES.contains(&role.as_str()) {
                    anyhow::bail!("unknown role {role:?}: use one of {}", ROLES.join(", "));
                }
            }
            let email = email.trim().to_lowercase();
            let user = db.user_by_email(&email).await?.ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
            match db.update_user(user.id, role.as_deref(), tier.as_deref()).await {
                Ok(Some(u)) => println!("{}: role {}, tier {}", u.email, u.role, u.subscription_tier),
                Ok(None) => anyhow::bail!("no user with email {email}"),
                Err(DbError::MissingReference) => {
                    let tiers: Vec<String> = db.list_tiers().await?.into_iter().map(|t| t.id).collect();
                    anyhow::bail!("unknown tier {:?}: use one of {}", tier.unwrap_or_default(), tiers.join(", "));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
