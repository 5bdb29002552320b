//! Typed server functions: called from pages (as `fetch` after hydration,
//! as plain form posts before it), run on the server through the
//! [`Backend`](crate::backend::Backend) the server provides.
//!
//! All live under `/_fn/` so that `/api/` belongs to the REST API alone.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::model::{
    ApiKeyView, ApiReference, BuilderDetail, BuilderSummary, BuilderTestView, ConnectedAppView, ConsentView,
    CreatedApiKey, DashboardView, DeveloperView, FormError, ImportPreviewView, InstallationView, InstalledOverview,
    MarketplacePage, RotatedSecret, ServerDetail, TryResult, UserView,
};

#[cfg(feature = "ssr")]
mod ssr {
    pub use crate::backend::SharedBackend;
    use crate::model::FormError;
    use http::{HeaderValue, header::SET_COOKIE, request::Parts};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    /// The request and the backend, both provided by the server.
    pub fn context() -> Result<(Parts, SharedBackend), FormError> {
        let parts = use_context::<Parts>();
        let backend = use_context::<SharedBackend>();
        match (parts, backend) {
            (Some(p), Some(b)) => Ok((p, b)),
            _ => Err(FormError::new("internal_error", "server function called outside a request")),
        }
    }

    /// The flash cookie carrying a just-created API key.
    pub const FLASH_COOKIE: &str = "omni_new_key";
    /// The flash cookie carrying a just-rotated webhook secret.
    pub const SECRET_FLASH_COOKIE: &str = "omni_new_secret";

    /// The flash cookie carrying a "try it" call's outcome.
    pub const TRY_FLASH_COOKIE: &str = "omni_try_result";

    /// A "try it" outcome as JSON small enough for a cookie (browsers keep
    /// about 4 KB of one, and base64 adds a third): long arguments and a long
    /// output are cut, and the output says so.
    pub fn flash_sized(result: &crate::model::TryResult) -> String {
        use crate::model::TryOutcome;
        const BUDGET: usize = 2800;
        let mut result = result.clone();
        result.arguments = json_prefix(&result.arguments, 600);
        let json = serde_json::to_string(&result).unwrap_or_default();
        if json.len() <= BUDGET {
            return json;
        }
        // Everything but the output, and a note, take this much room.
        let outside = json.len() - serde_json::to_string(&result.outcome).unwrap_or_default().len() + 64;
        if let TryOutcome::Success { output } | TryOutcome::ToolError { output } = &mut result.outcome {
            let note = format!(
                "\n… (cut: {} characters in all; with JavaScript on, the page shows it all)",
                output.chars().count()
            );
            *output = json_prefix(output, BUDGET.saturating_sub(outside + note.len() * 2)) + &note;
        }
        serde_json::to_string(&result).unwrap_or_default()
    }

    /// The longest prefix of `text` that takes at most `room` bytes in a
    /// JSON string.
    fn json_prefix(text: &str, room: usize) -> String {
        let mut used = 0;
        text.chars()
            .take_while(|c| {
                used += serde_json::to_string(c).map_or(6, |s| s.len() - 2);
                used <= room
            })
            .collect()
    }

    /// A form submitted by the browser itself (no JavaScript): it asks for HTML.
    pub fn is_plain_form_post(req: &Parts) -> bool {
        req.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    }

    /// The flash cookie, percent-free: the value is URL-safe base64.
    pub fn flash_cookie(value: &str, max_age: u32) -> String {
        named_flash_cookie(FLASH_COOKIE, value, max_age)
    }

    pub fn named_flash_cookie(name: &str, value: &str, max_age: u32) -> String {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let value = URL_SAFE_NO_PAD.encode(value);
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
    }

    fn named_flash_value(req: &Parts, cookie: &str) -> Option<String> {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        req.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == cookie && !value.is_empty())
            .and_then(|(_, value)| URL_SAFE_NO_PAD.decode(value).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
    }

    /// Reads a flash cookie's JSON and deletes the cookie: a flash is for
    /// one render.
    pub fn take_flash<T: serde::de::DeserializeOwned>(req: &Parts, cookie: &str) -> Option<T> {
        let value = named_flash_value(req, cookie)?;
        set_cookie(&named_flash_cookie(cookie, "", 0));
        serde_json::from_str(&value).ok()
    }

    pub fn set_cookie(value: &str) {
        if let (Some(res), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
            res.append_header(SET_COOKIE, v);
        }
    }
}

/// Where to go after signing in: `next` when it is a path on this site
/// (the OAuth consent page sends people through `/login?next=...`), the
/// dashboard otherwise. Never another origin: `//host` and `/\host` are
/// refused, and so is any control character (browsers drop tabs and line
/// breaks from URLs, which would turn `/<tab>/host` into `//host`).
pub fn after_sign_in(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/dashboard",
    }
}

#[cfg(test)]
mod tests {
    use super::after_sign_in;

    #[test]
    fn sign_in_returns_only_to_this_site() {
        let consent = "/oauth/consent?request=abc";
        assert_eq!(after_sign_in(Some(consent)), consent);
        let hostile = [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil",
        ];
        for next in hostile {
            assert_eq!(after_sign_in(Some(next)), "/dashboard", "{next:?}");
        }
        assert_eq!(after_sign_in(None), "/dashboard");
    }
}

/// Sends the browser on after signing in. With a `next` and JavaScript the
/// page itself loads `next` as a new document (see `pages::auth`): the
/// OAuth consent page needs its own response headers (its CSP names the
/// client's redirect target), which a client-side navigation would not get.
#[cfg(feature = "ssr")]
fn redirect_after_sign_in(req: &http::request::Parts, next: Option<&str>) {
    if next.is_none() || ssr::is_plain_form_post(req) {
        leptos_axum::redirect(after_sign_in(next));
    }
}

#[server(prefix = "/_fn", endpoint = "register")]
pub async fn register(
    email: String,
    password: String,
    #[server(default)] next: Option<String>,
) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    let signed = backend.register(&req, email, password).await?;
    ssr::set_cookie(&signed.set_cookie);
    redirect_after_sign_in(&req, next.as_deref());
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "login")]
pub async fn login(email: String, password: String, #[server(default)] next: Option<String>) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    let signed = backend.login(&req, email, password).await?;
    ssr::set_cookie(&signed.set_cookie);
    redirect_after_sign_in(&req, next.as_deref());
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "logout")]
pub async fn logout() -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    let clear = backend.logout(&req).await?;
    ssr::set_cookie(&clear);
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserView>, FormError> {
    let (req, backend) = ssr::context()?;
    backend.current_user(&req).await
}

#[server(prefix = "/_fn", endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, FormError> {
    let (req, backend) = ssr::context()?;
    backend.list_api_keys(&req).await
}

#[server(prefix = "/_fn", endpoint = "create_api_key")]
pub async fn create_api_key(name: String) -> Result<CreatedApiKey, FormError> {
    let (req, backend) = ssr::context()?;
    let created = backend.create_api_key(&req, name).await?;
    // A plain form post (no JavaScript yet) is answered with a redirect back
    // to the page, which would lose the one chance to show the key. Hand it
    // to the next page render in a short-lived, HttpOnly flash cookie that
    // the render deletes (see `take_new_api_key`).
    if ssr::is_plain_form_post(&req) {
        if let Ok(json) = serde_json::to_string(&created) {
            ssr::set_cookie(&ssr::flash_cookie(&json, 120));
        }
    }
    Ok(created)
}

/// The key created by a plain form post just before this render, if any;
/// reading it deletes it.
#[server(prefix = "/_fn", endpoint = "take_new_api_key")]
pub async fn take_new_api_key() -> Result<Option<CreatedApiKey>, FormError> {
    let (req, _) = ssr::context()?;
    Ok(ssr::take_flash(&req, ssr::FLASH_COOKIE))
}

/// Changes the password. Every session ends, this one gets a new cookie;
/// with the checkbox ticked (`revoke_api_keys=on`, the form's default) every
/// API key is revoked too. Both a plain form post and a hydrated page land
/// back on /settings with `?password=changed` (and `&keys=revoked`), which
/// the page announces.
#[server(prefix = "/_fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    #[server(default)] revoke_api_keys: Option<String>,
) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    let revoke = revoke_api_keys.is_some_and(|v| v == "on" || v == "true");
    let signed = backend.change_password(&req, current_password, new_password, revoke).await?;
    ssr::set_cookie(&signed.set_cookie);
    leptos_axum::redirect(if revoke {
        "/settings?password=changed&keys=revoked"
    } else {
        "/settings?password=changed"
    });
    Ok(())
}

/// Rotates a developer-hosted server's webhook secret. Like a new API key,
/// a plain form post hands the secret to the next render in a short-lived
/// HttpOnly flash cookie (see `take_rotated_secret`).
#[server(prefix = "/_fn", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(server_id: String) -> Result<RotatedSecret, FormError> {
    let (req, backend) = ssr::context()?;
    let rotated = backend.rotate_webhook_secret(&req, server_id).await?;
    if ssr::is_plain_form_post(&req) {
        if let Ok(json) = serde_json::to_string(&rotated) {
            ssr::set_cookie(&ssr::named_flash_cookie(ssr::SECRET_FLASH_COOKIE, &json, 120));
        }
    }
    Ok(rotated)
}

/// The secret rotated by a plain form post just before this render, if
/// any; reading it deletes it.
#[server(prefix = "/_fn", endpoint = "take_rotated_secret")]
pub async fn take_rotated_secret() -> Result<Option<RotatedSecret>, FormError> {
    let (req, _) = ssr::context()?;
    Ok(ssr::take_flash(&req, ssr::SECRET_FLASH_COOKIE))
}

/// The OAuth consent page's content (see `Backend::oauth_consent`).
#[server(prefix = "/_fn", endpoint = "oauth_consent")]
pub async fn oauth_consent(request: String) -> Result<Option<ConsentView>, FormError> {
    let (req, backend) = ssr::context()?;
    backend.oauth_consent(&req, request).await
}

#[server(prefix = "/_fn", endpoint = "connected_apps")]
pub async fn connected_apps() -> Result<Vec<ConnectedAppView>, FormError> {
    let (req, backend) = ssr::context()?;
    backend.connected_apps(&req).await
}

#[server(prefix = "/_fn", endpoint = "revoke_connected_app")]
pub async fn revoke_connected_app(id: String) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    backend.revoke_connected_app(&req, id).await?;
    if ssr::is_plain_form_post(&req) {
        leptos_axum::redirect("/settings#connected-apps");
    }
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: String) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    backend.revoke_api_key(&req, id).await
}

/// The REST API's reference, for `/api-reference`.
#[server(prefix = "/_fn", endpoint = "api_reference")]
pub async fn get_api_reference() -> Result<ApiReference, FormError> {
    let (_, backend) = ssr::context()?;
    backend.api_reference().await
}

/// One page of the marketplace. The filters are separate arguments, each
/// optional, so an unfiltered call encodes as nothing at all.
#[server(prefix = "/_fn", endpoint = "marketplace")]
pub async fn marketplace(
    q: Option<String>,
    category: Option<String>,
    hosting_type: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
) -> Result<MarketplacePage, FormError> {
    let (req, backend) = ssr::context()?;
    backend.marketplace(&req, crate::model::MarketplaceQuery { q, category, hosting_type, sort, cursor }).await
}

#[server(prefix = "/_fn", endpoint = "server")]
pub async fn get_server(id: String) -> Result<ServerDetail, FormError> {
    let (req, backend) = ssr::context()?;
    backend.server_detail(&req, id).await
}

/// Installs a server. The config arrives as the form's fields
/// `config[name]`; a plain form post is sent back to the server's page,
/// which then shows it installed.
#[server(prefix = "/_fn", endpoint = "install_server")]
pub async fn install_server(
    server_id: String,
    config: Option<HashMap<String, String>>,
) -> Result<InstallationView, FormError> {
    let (req, backend) = ssr::context()?;
    backend.install_server(&req, server_id, config.unwrap_or_default()).await
}

#[server(prefix = "/_fn", endpoint = "installed")]
pub async fn installed() -> Result<InstalledOverview, FormError> {
    let (req, backend) = ssr::context()?;
    backend.installed(&req).await
}

#[server(prefix = "/_fn", endpoint = "set_installation_enabled")]
pub async fn set_installation_enabled(id: String, enabled: bool) -> Result<InstallationView, FormError> {
    let (req, backend) = ssr::context()?;
    backend.update_installation(&req, id, None, Some(enabled)).await
}

/// Saves an installation's config from its form (`config[name]` fields).
#[server(prefix = "/_fn", endpoint = "update_installation_config")]
pub async fn update_installation_config(
    id: String,
    config: Option<HashMap<String, String>>,
) -> Result<InstallationView, FormError> {
    let (req, backend) = ssr::context()?;
    // The page has one form per installation: errors name the one they
    // belong to (`{id}/config.token`, or `{id}` for the form as a whole).
    backend.update_installation(&req, id.clone(), Some(config.unwrap_or_default()), None).await.map_err(|mut e| {
        e.field = Some(match e.field.take() {
            Some(f) => format!("{id}/{f}"),
            None => id,
        });
        e
    })
}

#[server(prefix = "/_fn", endpoint = "uninstall")]
pub async fn uninstall(id: String) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    backend.uninstall(&req, id).await
}

/// Calls a tool from the "try it" panel. `tool` is `slug.name`, as MCP
/// clients see it; `arguments` is a JSON object's text. A plain form post
/// hands the outcome to the next render of /installed in a short-lived
/// HttpOnly flash cookie (see `take_try_result`) and lands on the panel.
#[server(prefix = "/_fn", endpoint = "try_tool")]
pub async fn try_tool(tool: String, arguments: String) -> Result<TryResult, FormError> {
    let (req, backend) = ssr::context()?;
    let Some((server, name)) = tool.split_once('.') else {
        return Err(FormError { field: Some("tool".into()), ..FormError::new("invalid_field", "Choose a tool.") });
    };
    let result = backend.try_tool(&req, server.to_string(), name.to_string(), arguments).await?;
    if ssr::is_plain_form_post(&req) {
        ssr::set_cookie(&ssr::named_flash_cookie(ssr::TRY_FLASH_COOKIE, &ssr::flash_sized(&result), 120));
        leptos_axum::redirect("/installed#try-it");
    }
    Ok(result)
}

/// The outcome of a "try it" call made by a plain form post just before
/// this render, if any; reading it deletes it.
#[server(prefix = "/_fn", endpoint = "take_try_result")]
pub async fn take_try_result() -> Result<Option<TryResult>, FormError> {
    let (req, _) = ssr::context()?;
    Ok(ssr::take_flash(&req, ssr::TRY_FLASH_COOKIE))
}

#[server(prefix = "/_fn", endpoint = "dashboard")]
pub async fn dashboard() -> Result<DashboardView, FormError> {
    let (req, backend) = ssr::context()?;
    backend.dashboard(&req).await
}

#[server(prefix = "/_fn", endpoint = "developer")]
pub async fn developer() -> Result<DeveloperView, FormError> {
    let (req, backend) = ssr::context()?;
    backend.developer(&req).await
}

#[server(prefix = "/_fn", endpoint = "builder_servers")]
pub async fn builder_servers() -> Result<Vec<BuilderSummary>, FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_list(&req).await
}

#[server(prefix = "/_fn", endpoint = "builder_server")]
pub async fn builder_server(id: String) -> Result<BuilderDetail, FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_detail(&req, id).await
}

/// Creates a draft and opens it in the editor.
#[server(prefix = "/_fn", endpoint = "create_builder")]
pub async fn create_builder(name: String, #[server(default)] definition: Option<String>) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    let id = backend.builder_create(&req, name, definition).await?;
    leptos_axum::redirect(&format!("/builder/{id}"));
    Ok(())
}

/// Saves the draft's definition; what still stops it from being tested or
/// published: (field, message).
#[server(prefix = "/_fn", endpoint = "save_builder")]
pub async fn save_builder(id: String, definition: String) -> Result<Vec<(String, String)>, FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_save(&req, id, definition).await
}

/// Sets one of the publisher's secrets (an empty value removes it).
#[server(prefix = "/_fn", endpoint = "set_builder_secret")]
pub async fn set_builder_secret(id: String, name: String, value: String) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_secret(&req, id, name, value).await
}

#[server(prefix = "/_fn", endpoint = "test_builder")]
pub async fn test_builder(
    id: String,
    tool: String,
    #[server(default)] arguments: String,
    #[server(default)] config: String,
) -> Result<BuilderTestView, FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_test(&req, id, tool, arguments, config).await
}

/// Publishes the draft; the version published.
#[server(prefix = "/_fn", endpoint = "publish_builder")]
pub async fn publish_builder(id: String, #[server(default)] version: Option<String>) -> Result<String, FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_publish(&req, id, version).await
}

#[server(prefix = "/_fn", endpoint = "unpublish_builder")]
pub async fn unpublish_builder(id: String) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_unpublish(&req, id).await
}

/// Deletes a builder server (and, once published, everyone's installations
/// of it), then goes back to the list.
#[server(prefix = "/_fn", endpoint = "delete_builder")]
pub async fn delete_builder(id: String) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_delete(&req, id).await?;
    leptos_axum::redirect("/builder");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "preview_openapi")]
pub async fn preview_openapi(
    #[server(default)] document: Option<String>,
    #[server(default)] url: Option<String>,
) -> Result<ImportPreviewView, FormError> {
    let (req, backend) = ssr::context()?;
    backend.builder_import_preview(&req, document, url).await
}

/// A draft from an OpenAPI document's chosen operations, opened in the
/// editor.
#[server(prefix = "/_fn", endpoint = "import_openapi")]
pub async fn import_openapi(
    #[server(default)] document: Option<String>,
    #[server(default)] url: Option<String>,
    name: String,
    #[server(default)] operations: Vec<String>,
    #[server(default)] base_url: Option<String>,
) -> Result<(), FormError> {
    let (req, backend) = ssr::context()?;
    let id = backend.builder_import(&req, document, url, name, operations, base_url).await?;
    leptos_axum::redirect(&format!("/builder/{id}"));
    Ok(())
}
