//! GitHub: repositories and issues through the REST API, with the user's
//! token (`GITHUB_TOKEN`, from the installation's `token`).

use reqwest::{
    Method,
    header::{ACCEPT, HeaderMap, HeaderValue},
};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;

use super::{ToolResult, tool_error};
use serde_json::{Value, json};

use super::http::{Answer, ApiClient, segment};

pub const API_URL: &str = "https://api.github.com";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListRepos {
    /// A user or organization login; omit for the token owner's own repositories.
    pub user: Option<String>,
    /// 1-100, default 30.
    pub per_page: Option<u8>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RepoRef {
    pub owner: String,
    pub repo: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListIssues {
    pub owner: String,
    pub repo: String,
    /// `open` (default), `closed` or `all`.
    pub state: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IssueRef {
    pub owner: String,
    pub repo: String,
    pub number: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewIssue {
    pub owner: String,
    pub repo: String,
    pub title: String,
    pub body: Option<String>,
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Search {
    /// GitHub search syntax, e.g. `mcp language:rust stars:>100`.
    pub query: String,
    pub per_page: Option<u8>,
}

#[derive(Clone)]
pub struct GitHub {
    api: ApiClient,
    tool_router: ToolRouter<Self>,
}

fn repo_view(r: &Value) -> Value {
    json!({"fullName": r["full_name"], "description": r["description"], "url": r["html_url"], "private": r["private"],
           "stars": r["stargazers_count"], "forks": r["forks_count"], "openIssues": r["open_issues_count"],
           "language": r["language"], "defaultBranch": r["default_branch"], "updatedAt": r["updated_at"]})
}

fn issue_view(i: &Value) -> Value {
    json!({"number": i["number"], "title": i["title"], "state": i["state"], "url": i["html_url"], "author": i["user"]["login"],
           "labels": i["labels"].as_array().map(|l| l.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()),
           "comments": i["comments"], "createdAt": i["created_at"], "body": i["body"], "isPullRequest": i.get("pull_request").is_some()})
}

/// GitHub's error shape: `{"message": ..., "documentation_url": ...}`; rate
/// limits are a 403 or 429 with `x-ratelimit-remaining: 0`.
fn check(a: Answer) -> Result<Value, String> {
    if (200..300).contains(&a.status) {
        return Ok(a.body);
    }
    let message = a.body["message"].as_str().unwrap_or("unknown error");
    let remaining = a.headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok());
    Err(match a.status {
        401 => format!("GitHub refused the token ({message}); update it in your installation"),
        403 | 429 if remaining == Some("0") || a.status == 429 => {
            let reset = a.headers.get("x-ratelimit-reset").and_then(|v| v.to_str().ok()).unwrap_or("?");
            format!("GitHub's rate limit is reached ({message}); it resets at unix time {reset}")
        }
        404 => "not found on GitHub (or the token cannot see it)".into(),
        422 => format!("GitHub rejected the request: {message}"),
        s => format!("GitHub answered {s}: {message}"),
    })
}

fn done(text: String, value: Value) -> ToolResult {
    Ok(super::with_structured(text, value))
}

#[tool_router]
impl GitHub {
    pub fn new(base: Option<String>) -> Self {
        let mut extra = HeaderMap::new();
        extra.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        extra.insert("x-github-api-version", HeaderValue::from_static("2022-11-28"));
        Self {
            api: ApiClient::new(base.unwrap_or_else(|| API_URL.into()), "GITHUB_TOKEN", extra),
            tool_router: Self::tool_router(),
        }
    }

    pub fn tool_definitions() -> Vec<(String, String, Value)> {
        super::definitions(Self::tool_router())
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, String> {
        check(self.api.send(Method::GET, path, query, None).await?)
    }

    #[tool(description = "List repositories: a user's or organization's, or (without `user`) the token owner's.")]
    async fn list_repos(&self, Parameters(a): Parameters<ListRepos>) -> ToolResult {
        let per_page = a.per_page.unwrap_or(30).clamp(1, 100).to_string();
        let path = match &a.user {
            Some(u) => format!("/users/{}/repos", segment(u)),
            None => "/user/repos".into(),
        };
        match self.get(&path, &[("per_page", per_page), ("sort", "updated".into())]).await {
            Ok(v) => {
                let repos: Vec<Value> = v.as_array().map(|a| a.iter().map(repo_view).collect()).unwrap_or_default();
                let text = repos
                    .iter()
                    .map(|r| format!("{} ★{}", r["fullName"].as_str().unwrap_or("?"), r["stars"]))
                    .collect::<Vec<_>>()
                    .join("\n");
                done(if text.is_empty() { "no repositories".into() } else { text }, json!({"repositories": repos}))
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Get one repository.")]
    async fn get_repo(&self, Parameters(a): Parameters<RepoRef>) -> ToolResult {
        match self.get(&format!("/repos/{}/{}", segment(&a.owner), segment(&a.repo)), &[]).await {
            Ok(v) => {
                let r = repo_view(&v);
                done(
                    format!("{}: {}", r["fullName"].as_str().unwrap_or("?"), r["description"].as_str().unwrap_or("")),
                    r,
                )
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "List a repository's issues (and pull requests, marked as such).")]
    async fn list_issues(&self, Parameters(a): Parameters<ListIssues>) -> ToolResult {
        let state = a.state.unwrap_or_else(|| "open".into());
        if !["open", "closed", "all"].contains(&state.as_str()) {
            return tool_error("state must be open, closed or all");
        }
        match self.get(&format!("/repos/{}/{}/issues", segment(&a.owner), segment(&a.repo)), &[("state", state)]).await
        {
            Ok(v) => {
                let issues: Vec<Value> = v.as_array().map(|a| a.iter().map(issue_view).collect()).unwrap_or_default();
                let text = issues
                    .iter()
                    .map(|i| format!("#{} {}", i["number"], i["title"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("\n");
                done(if text.is_empty() { "no issues".into() } else { text }, json!({"issues": issues}))
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Get one issue by number.")]
    async fn get_issue(&self, Parameters(a): Parameters<IssueRef>) -> ToolResult {
        match self.get(&format!("/repos/{}/{}/issues/{}", segment(&a.owner), segment(&a.repo), a.number), &[]).await {
            Ok(v) => {
                let i = issue_view(&v);
                done(
                    format!(
                        "#{} {} ({})",
                        i["number"],
                        i["title"].as_str().unwrap_or(""),
                        i["state"].as_str().unwrap_or("")
                    ),
                    i,
                )
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Open an issue.")]
    async fn create_issue(&self, Parameters(a): Parameters<NewIssue>) -> ToolResult {
        if a.title.trim().is_empty() {
            return tool_error("the title must not be empty");
        }
        let body = json!({"title": a.title, "body": a.body, "labels": a.labels.unwrap_or_default()});
        let path = format!("/repos/{}/{}/issues", segment(&a.owner), segment(&a.repo));
        match self.api.send(Method::POST, &path, &[], Some(&body)).await.and_then(check) {
            Ok(v) => {
                let i = issue_view(&v);
                done(format!("opened #{}: {}", i["number"], i["url"].as_str().unwrap_or("")), i)
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Search public repositories with GitHub's search syntax.")]
    async fn search_repositories(&self, Parameters(a): Parameters<Search>) -> ToolResult {
        if a.query.trim().is_empty() {
            return tool_error("the query must not be empty");
        }
        let per_page = a.per_page.unwrap_or(10).clamp(1, 100).to_string();
        match self.get("/search/repositories", &[("q", a.query), ("per_page", per_page)]).await {
            Ok(v) => {
                let repos: Vec<Value> =
                    v["items"].as_array().map(|a| a.iter().map(repo_view).collect()).unwrap_or_default();
                let text = format!(
                    "{} results; top: {}",
                    v["total_count"],
                    repos.iter().filter_map(|r| r["fullName"].as_str()).collect::<Vec<_>>().join(", ")
                );
                done(text, json!({"totalCount": v["total_count"], "repositories": repos}))
            }
            Err(e) => tool_error(e),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for GitHub {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("omnimcp-github", env!("CARGO_PKG_VERSION")))
    }
}
