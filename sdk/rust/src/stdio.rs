//! The same definitions as a standard MCP server (rmcp's [`ServerHandler`]),
//! for any MCP client that launches programs: MCP Inspector, Claude
//! Desktop, Cursor, the Python SDK's stdio client.
//!
//! Errors follow MCP's split: an unknown tool, resource or prompt is a
//! JSON-RPC "invalid params" error (the request itself was wrong); a tool
//! whose arguments do not fit, or whose handler fails, answers a result with
//! `isError: true`, which the model sees and can correct.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
        GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListResourcesResult, ListToolsResult,
        PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, ResourceContents, Role as McpRole, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde_json::Value;

use crate::definitions::{CallError, Definitions, Role, to_call_tool_result};

#[derive(Clone)]
pub(crate) struct StdioServer {
    pub defs: Arc<Definitions>,
    pub name: String,
    pub version: String,
    pub instructions: Option<String>,
}

/// Unknown names are the caller's mistake in the request itself.
fn not_found(error: CallError) -> ErrorData {
    ErrorData::invalid_params(error.message(), None)
}

impl ServerHandler for StdioServer {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder().enable_tools().build();
        if !self.defs.resources.is_empty() {
            capabilities.resources = ServerCapabilities::builder().enable_resources().build().resources;
        }
        if !self.defs.prompts.is_empty() {
            capabilities.prompts = ServerCapabilities::builder().enable_prompts().build().prompts;
        }
        let mut config = ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(self.name.clone(), self.version.clone()));
        if let Some(instructions) = &self.instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .defs
            .tools
            .iter()
            .map(|t| Tool::new(t.name.clone(), t.description.clone(), Arc::clone(&t.input_schema)))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        let result = match self.defs.call_tool(&request.name, arguments).await {
            Ok(value) => to_call_tool_result(value),
            Err(e @ CallError::Unknown(_)) => return Err(not_found(e)),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.message())]),
        };
        Ok(CallToolResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let resources = self
            .defs
            .resources
            .iter()
            .map(|r| {
                let mut resource =
                    rmcp::model::Resource::new(r.meta.uri(), r.meta.name()).with_mime_type(r.meta.mime());
                if !r.meta.description_text().is_empty() {
                    resource = resource.with_description(r.meta.description_text());
                }
                resource
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match self.defs.read_resource(&request.uri).await {
            Ok((resource, text)) => {
                let contents = ResourceContents::text(text, resource.uri()).with_mime_type(resource.mime());
                Ok(ReadResourceResult::new(vec![contents]).into())
            }
            Err(e @ CallError::Unknown(_)) => Err(not_found(e)),
            // A resource has no "isError" result: its failure is an error.
            Err(e) => Err(ErrorData::internal_error(e.message(), None)),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self
            .defs
            .prompts
            .iter()
            .map(|p| {
                let arguments = p
                    .arguments
                    .iter()
                    .map(|a| {
                        let argument = PromptArgument::new(a.name.clone()).with_required(a.required);
                        if a.description.is_empty() {
                            argument
                        } else {
                            argument.with_description(a.description.clone())
                        }
                    })
                    .collect();
                Prompt::new(p.name.clone(), Some(p.description.clone()), Some(arguments))
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arguments = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        match self.defs.get_prompt(&request.name, arguments).await {
            Ok(reply) => {
                let messages = reply
                    .messages()
                    .iter()
                    .map(|m| {
                        let role = match m.role {
                            Role::User => McpRole::User,
                            Role::Assistant => McpRole::Assistant,
                        };
                        PromptMessage::new_text(role, m.text.clone())
                    })
                    .collect();
                let mut result = GetPromptResult::new(messages);
                if let Some(d) = reply.description_text() {
                    result = result.with_description(d);
                }
                Ok(result.into())
            }
            Err(e @ CallError::Unknown(_)) => Err(not_found(e)),
            // Wrong prompt arguments are the request's fault; a handler's
            // failure is the server's.
            Err(e @ CallError::InvalidArguments(_)) => Err(ErrorData::invalid_params(e.message(), None)),
            Err(e) => Err(ErrorData::internal_error(e.message(), None)),
        }
    }
}
