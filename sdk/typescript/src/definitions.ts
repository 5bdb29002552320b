/**
 * What a server offers: its tools, resources (one URI, or an RFC 6570
 * template for many) and prompts, and how each is run. The callback
 * protocol ({@link ./callback}) and stdio ({@link ./stdio}) both run them
 * from here, so the two cannot disagree.
 *
 * @module
 */
import { type ArgumentsOf, InvalidArguments, type JsonSchema, type Parameters, checkArguments, jsonSchemaOf } from "./schema.js";

/** MCP's tool annotations: hints for clients, never guarantees. */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** A tool: `parameters` is a JSON Schema (write it `as const` for typed arguments) or a zod schema. */
export interface ToolDefinition<P extends Parameters | undefined = Parameters | undefined> {
  /** 1-64 characters: letters, digits, `_` and `-`. */
  name: string;
  description: string;
  parameters?: P;
  annotations?: ToolAnnotations;
  /** Returns the result (any JSON value; an object is also the structured result). A thrown error is the tool's error. */
  handler: (args: ArgumentsOf<P>) => unknown;
}

/** What a resource read returns: text, or bytes (sent as base64). */
export type ResourceContent = string | Uint8Array | { text: string; mimeType?: string } | { blob: Uint8Array; mimeType?: string };

/** A resource: `uri` is one URI, or an RFC 6570 template (`notes://{id}`) whose variables `read` receives. */
export interface ResourceDefinition {
  uri: string;
  name: string;
  description?: string;
  mimeType?: string;
  read: (uri: string, variables: Record<string, string>) => ResourceContent | Promise<ResourceContent>;
}

/** One of a prompt's arguments (MCP sends them as strings). */
export interface PromptArgument {
  name: string;
  description?: string;
  required?: boolean;
}

/** A prompt message: a string is one user message. */
export type PromptMessage = { role: "user" | "assistant"; content: string };

/** What a prompt returns. */
export type PromptResult = string | PromptMessage[] | { description?: string; messages: PromptMessage[] };

/** A prompt. */
export interface PromptDefinition {
  name: string;
  description?: string;
  arguments?: PromptArgument[];
  get: (args: Record<string, string>) => PromptResult | Promise<PromptResult>;
}

/** Why a call did not produce a result; `status` is the callback protocol's HTTP status for it. */
export class CallError extends Error {
  override readonly name = "CallError";
  constructor(
    readonly status: 400 | 404 | 422 | 500,
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether a tool or prompt name is one the platform accepts. */
export function validName(name: string): boolean {
  return NAME.test(name);
}

/** MCP resource contents, as both protocols send them. */
export interface Contents {
  uri: string;
  mimeType?: string;
  text?: string;
  blob?: string;
}

/** A prompt's result in MCP's shape. */
export interface PromptReply {
  description?: string;
  messages: Array<{ role: "user" | "assistant"; content: { type: "text"; text: string } }>;
}

/** The registry of one server's definitions. */
export class Definitions {
  readonly tools = new Map<string, ToolDefinition>();
  readonly resources: ResourceDefinition[] = [];
  readonly prompts = new Map<string, PromptDefinition>();

  addTool(tool: ToolDefinition): void {
    if (!validName(tool.name)) throw new TypeError(`invalid tool name ${JSON.stringify(tool.name)}: use 1-64 letters, digits, _ or -`);
    if (this.tools.has(tool.name)) throw new TypeError(`the tool ${tool.name} is defined twice`);
    this.tools.set(tool.name, tool);
  }

  addResource(resource: ResourceDefinition): void {
    if (this.resources.some((r) => r.uri === resource.uri)) throw new TypeError(`the resource ${resource.uri} is defined twice`);
    compileTemplate(resource.uri); // throws on a malformed template
    this.resources.push(resource);
  }

  addPrompt(prompt: PromptDefinition): void {
    if (!validName(prompt.name)) throw new TypeError(`invalid prompt name ${JSON.stringify(prompt.name)}`);
    if (this.prompts.has(prompt.name)) throw new TypeError(`the prompt ${prompt.name} is defined twice`);
    this.prompts.set(prompt.name, prompt);
  }

  /** A tool's input JSON Schema, as published. */
  async inputSchema(tool: ToolDefinition): Promise<JsonSchema> {
    const schema = await jsonSchemaOf(tool.parameters);
    return { type: "object", ...schema };
  }

  /** The deploy request's `tools`, `resources` and `prompts`. */
  async manifest(): Promise<{ tools: unknown[]; resources: unknown[]; prompts: unknown[] }> {
    const tools = await Promise.all(
      [...this.tools.values()].map(async (t) => ({
        name: t.name,
        description: t.description,
        inputSchema: await this.inputSchema(t),
        ...(t.annotations ? { annotations: t.annotations } : {}),
      })),
    );
    const resources = this.resources.map((r) => ({
      ...(isTemplate(r.uri) ? { uriTemplate: r.uri } : { uri: r.uri }),
      name: r.name,
      description: r.description ?? "",
      ...(r.mimeType ? { mimeType: r.mimeType } : {}),
    }));
    const prompts = [...this.prompts.values()].map((p) => ({
      name: p.name,
      description: p.description ?? "",
      arguments: (p.arguments ?? []).map((a) => ({ name: a.name, description: a.description ?? "", required: a.required ?? false })),
    }));
    return { tools, resources, prompts };
  }

  /** Runs a tool. Its thrown errors become {@link CallError}s whose message is the error's own (never its stack). */
  async callTool(name: string, args: unknown): Promise<unknown> {
    const tool = this.tools.get(name);
    if (!tool) throw new CallError(404, `no tool named ${JSON.stringify(name)}`);
    let checked: unknown;
    try {
      checked = checkArguments(tool.parameters, args);
    } catch (e) {
      if (e instanceof InvalidArguments) throw new CallError(422, e.message);
      throw e;
    }
    return await isolate(() => tool.handler(checked as never));
  }

  /** Reads a resource by URI (a template's expansion included). */
  async readResource(uri: string): Promise<Contents> {
    for (const resource of this.resources) {
      const variables = compileTemplate(resource.uri).match(uri);
      if (!variables) continue;
      const content = await isolate(() => resource.read(uri, variables));
      return contentsOf(uri, resource.mimeType, content);
    }
    throw new CallError(404, `no resource at ${JSON.stringify(uri)}`);
  }

  /** Renders a prompt. */
  async getPrompt(name: string, args: unknown): Promise<PromptReply> {
    const prompt = this.prompts.get(name);
    if (!prompt) throw new CallError(404, `no prompt named ${JSON.stringify(name)}`);
    if (typeof args !== "object" || args === null || Array.isArray(args)) throw new CallError(422, "arguments: must be an object");
    const strings: Record<string, string> = {};
    for (const [key, value] of Object.entries(args)) {
      if (typeof value !== "string") throw new CallError(422, `${key}: prompt arguments are strings`);
      strings[key] = value;
    }
    for (const a of prompt.arguments ?? []) {
      if (a.required && !(a.name in strings)) throw new CallError(422, `${a.name}: is required`);
    }
    const result = await isolate(() => prompt.get(strings));
    return replyOf(result, prompt.description);
  }
}

/** Runs a handler; a throw becomes a 500 {@link CallError} with the error's message only. */
async function isolate<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof CallError) throw e;
    const message = e instanceof Error ? e.message : typeof e === "string" ? e : "the handler failed";
    throw new CallError(500, message || "the handler failed");
  }
}

function contentsOf(uri: string, declared: string | undefined, content: ResourceContent): Contents {
  if (typeof content === "string") return { uri, mimeType: declared ?? "text/plain", text: content };
  if (content instanceof Uint8Array) {
    return { uri, mimeType: declared ?? "application/octet-stream", blob: Buffer.from(content).toString("base64") };
  }
  if ("text" in content) return { uri, mimeType: content.mimeType ?? declared ?? "text/plain", text: content.text };
  return { uri, mimeType: content.mimeType ?? declared ?? "application/octet-stream", blob: Buffer.from(content.blob).toString("base64") };
}

function replyOf(result: PromptResult, description: string | undefined): PromptReply {
  const messages = typeof result === "string" ? [{ role: "user" as const, content: result }] : Array.isArray(result) ? result : result.messages;
  const reply: PromptReply = {
    messages: messages.map((m) => ({ role: m.role, content: { type: "text", text: m.content } })),
  };
  const text = typeof result === "object" && !Array.isArray(result) ? (result.description ?? description) : description;
  if (text) reply.description = text;
  return reply;
}

/** Whether a resource URI is an RFC 6570 template. */
export function isTemplate(uri: string): boolean {
  return uri.includes("{");
}

/** A compiled template: a URI matcher returning its variables. */
export interface Template {
  match(uri: string): Record<string, string> | undefined;
}

/**
 * Compiles the RFC 6570 forms resources use: `{var}` (one segment, no `/`),
 * `{+var}` (anything, `/` included) and `{?a,b}` (query parameters, any
 * order, optional). A URI without braces matches only itself. Matching is
 * a single regular expression without nested quantifiers (linear time).
 */
export function compileTemplate(template: string): Template {
  if (!isTemplate(template)) {
    return { match: (uri) => (uri === template ? {} : undefined) };
  }
  let pattern = "^";
  const names: string[] = [];
  let query: string[] | undefined;
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf("{");
    if (open < 0) {
      pattern += escape(rest);
      break;
    }
    const close = rest.indexOf("}", open);
    if (close < 0) throw new TypeError(`unclosed expression in the template ${template}`);
    pattern += escape(rest.slice(0, open));
    const expression = rest.slice(open + 1, close);
    rest = rest.slice(close + 1);
    if (expression.startsWith("?")) {
      if (rest.length > 0) throw new TypeError(`a {?...} expression must end the template ${template}`);
      query = expression.slice(1).split(",");
      pattern += "(?:\\?([^#]*))?";
    } else if (expression.startsWith("+")) {
      names.push(expression.slice(1));
      pattern += "([^?#]*)";
    } else if (/^[A-Za-z0-9_]+$/.test(expression)) {
      names.push(expression);
      pattern += "([^/?#]+)";
    } else {
      throw new TypeError(`unsupported expression {${expression}} in the template ${template}`);
    }
  }
  const regex = new RegExp(`${pattern}$`);
  return {
    match(uri) {
      const found = regex.exec(uri);
      if (!found) return undefined;
      const variables: Record<string, string> = {};
      names.forEach((name, i) => {
        variables[name] = safeDecode(found[i + 1] ?? "");
      });
      if (query) {
        const params = new URLSearchParams(found[names.length + 1] ?? "");
        for (const name of query) {
          const value = params.get(name);
          if (value !== null) variables[name] = value;
        }
      }
      return variables;
    },
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
