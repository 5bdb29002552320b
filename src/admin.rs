//! `omnimcp admin`: user administration from the command line, straight
//! against the database (so it works whether or not a server is running).

use crate::{
    config::AdminCommand,
    db::{Db, DbError, ROLES},
};

pub async fn run(db: &Db, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Users => {
            println!("{:<38} {:<32} {:<6} {}", "id", "email", "role", "tier");
            for u in db.list_users().await? {
                println!("{:<38} {:<32} {:<6} {}", u.id, u.email, u.role, u.subscription_tier);
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
