/**
 * The same definitions as a stdio MCP server, through the official
 * `@modelcontextprotocol/sdk`: a developer tries their tools in any MCP
 * client (Claude Desktop, the Inspector, Cursor) before deploying. Results
 * are shaped as the platform shapes a callback's answer, so a tool reads
 * the same to a client either way.
 *
 * @module
 */
import { CallError, type Definitions, isTemplate } from "./definitions.js";

/** Loads a module by a name the compiler does not follow (the ESM and CommonJS builds each resolve it their way). */
async function load(name: string): Promise<Record<string, any>> {
  return (await import(name)) as Record<string, any>;
}

/** A tool's result as MCP content: text (a string as is, anything else as JSON) and, for an object, structured content. */
export function toolResult(value: unknown): { content: Array<{ type: "text"; text: string }>; structuredContent?: Record<string, unknown> } {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? null);
  const result: { content: Array<{ type: "text"; text: string }>; structuredContent?: Record<string, unknown> } = {
    content: [{ type: "text", text }],
  };
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    result.structuredContent = value as Record<string, unknown>;
  }
  return result;
}

/** A running stdio server. */
export interface StdioServer {
  close(): Promise<void>;
}

/** Serves `definitions` on stdin/stdout until the client closes them. */
export async function serveStdio(definitions: Definitions, info: { name: string; version: string }): Promise<StdioServer> {
  const { Server } = await load("@modelcontextprotocol/sdk/server/index.js");
  const { StdioServerTransport } = await load("@modelcontextprotocol/sdk/server/stdio.js");
  const types = await load("@modelcontextprotocol/sdk/types.js");
  const capabilities: Record<string, object> = { tools: {} };
  if (definitions.resources.length > 0) capabilities.resources = {};
  if (definitions.prompts.size > 0) capabilities.prompts = {};
  const server = new Server(info, { capabilities });
  const invalid = (message: string) => new types.McpError(types.ErrorCode.InvalidParams, message);

  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({
    tools: await Promise.all(
      [...definitions.tools.values()].map(async (t) => ({
        name: t.name,
        description: t.description,
        inputSchema: await definitions.inputSchema(t),
        ...(t.annotations ? { annotations: t.annotations } : {}),
      })),
    ),
  }));
  server.setRequestHandler(types.CallToolRequestSchema, async (request: { params: { name: string; arguments?: unknown } }) => {
    try {
      return toolResult(await definitions.callTool(request.params.name, request.params.arguments ?? {}));
    } catch (e) {
      if (e instanceof CallError && e.status === 404) throw invalid(e.message);
      const message = e instanceof Error ? e.message : "the tool failed";
      return { content: [{ type: "text", text: message }], isError: true };
    }
  });
  if (capabilities.resources) {
    const listed = (template: boolean) => definitions.resources.filter((r) => isTemplate(r.uri) === template);
    server.setRequestHandler(types.ListResourcesRequestSchema, async () => ({
      resources: listed(false).map((r) => ({ uri: r.uri, name: r.name, description: r.description, mimeType: r.mimeType })),
    }));
    server.setRequestHandler(types.ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: listed(true).map((r) => ({
        uriTemplate: r.uri,
        name: r.name,
        description: r.description,
        mimeType: r.mimeType,
      })),
    }));
    server.setRequestHandler(types.ReadResourceRequestSchema, async (request: { params: { uri: string } }) => {
      try {
        return { contents: [await definitions.readResource(request.params.uri)] };
      } catch (e) {
        throw invalid(e instanceof Error ? e.message : "the read failed");
      }
    });
  }
  if (capabilities.prompts) {
    server.setRequestHandler(types.ListPromptsRequestSchema, async () => ({
      prompts: [...definitions.prompts.values()].map((p) => ({
        name: p.name,
        description: p.description,
        arguments: p.arguments ?? [],
      })),
    }));
    server.setRequestHandler(types.GetPromptRequestSchema, async (request: { params: { name: string; arguments?: unknown } }) => {
      try {
        return await definitions.getPrompt(request.params.name, request.params.arguments ?? {});
      } catch (e) {
        throw invalid(e instanceof Error ? e.message : "the prompt failed");
      }
    });
  }
  const transport = new StdioServerTransport();
  await server.connect(transport);
  return { close: () => server.close() };
}
