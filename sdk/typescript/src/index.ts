/**
 * `@omnimcp/sdk`: publish MCP tools, resources and prompts on OmniMCP.
 *
 * ```ts
 * import { OmniMCP } from "@omnimcp/sdk";
 *
 * const mcp = new OmniMCP({ apiKey: process.env.OMNIMCP_API_KEY });
 * mcp.tool({
 *   name: "add",
 *   description: "Adds two numbers",
 *   parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } as const,
 *   handler: ({ a, b }) => ({ sum: a + b }),
 * });
 * await mcp.deploy({ name: "adder", description: "Adds", callbackUrl: "https://adder.example.com" });
 * await mcp.startLocal({ port: 8081 });
 * ```
 *
 * @module
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fastifyPlugin, fetchHandler, nodeHandler, type FetchHandler, type NodeHandler } from "./adapters.js";
import type { Authenticator } from "./callback.js";
import {
  Definitions,
  type PromptDefinition,
  type ResourceDefinition,
  type ToolDefinition,
  validName,
} from "./definitions.js";
import type { Parameters } from "./schema.js";
import { DEFAULT_REPLAY_WINDOW_SECONDS, ReplayGuard, type Rejection } from "./signature.js";
import { serveStdio, type StdioServer } from "./stdio.js";

export type { FastifyLike, FetchHandler, NodeHandler } from "./adapters.js";
export { type Authenticator, type CallbackRequest, type CallbackResponse, handleCallback, MAX_BODY } from "./callback.js";
export {
  CallError,
  compileTemplate,
  type Contents,
  Definitions,
  type PromptReply,
  type Template,
  type PromptArgument,
  type PromptDefinition,
  type PromptMessage,
  type PromptResult,
  type ResourceContent,
  type ResourceDefinition,
  type ToolAnnotations,
  type ToolDefinition,
} from "./definitions.js";
export { type ArgumentsOf, type FromSchema, type JsonSchema, type ObjectOf, type Parameters, type ZodLike } from "./schema.js";
export * as signature from "./signature.js";
export { toolResult, type StdioServer } from "./stdio.js";

/** The platform's URL when none is given. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:3000";

/** Options of {@link OmniMCP}; each falls back to an environment variable. */
export interface OmniMCPOptions {
  /** An API key (`omni_...`) of the account that publishes. Default: `OMNIMCP_API_KEY`. */
  apiKey?: string;
  /** The platform. Default: `OMNIMCP_URL`, else {@link DEFAULT_BASE_URL}. */
  baseUrl?: string;
  /** The webhook secret a running callback server checks. Default: `OMNIMCP_WEBHOOK_SECRET`, or the one `deploy()` receives. */
  webhookSecret?: string;
  /** Seconds a request's timestamp may be from this server's clock. Default 300. */
  replayWindowSeconds?: number;
  /** Where the SDK says what it does (a refused request, the secret of a first deploy). Default: `console`. */
  logger?: Pick<Console, "info" | "warn">;
}

/** What to deploy. */
export interface DeployOptions {
  /** The server's name (also its slug's source): letters, digits, `_` and `-`. */
  name: string;
  description?: string;
  /** Where the platform sends calls (`https://...`; the path prefix is kept). */
  callbackUrl: string;
  category?: string;
  tags?: string[];
  version?: string;
  /** Issue a new webhook secret: the old one stops working at once. */
  rotateSecret?: boolean;
  /** Print a newly issued secret once through the logger. Default true. */
  printSecret?: boolean;
}

/**
 * A webhook secret: `reveal()` gives the value; printing, logging or
 * serialising it shows `[redacted]`, so it does not leak by accident.
 */
export class WebhookSecret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "WebhookSecret([redacted])";
  }
}

/** What a deploy answers. */
export interface Deployment {
  serverId: string;
  slug: string;
  /** True when this deploy created the server. */
  created: boolean;
  /** On a first deploy or a rotation only. */
  webhookSecret?: WebhookSecret;
}

/** The platform refused a request. */
export class OmniMCPError extends Error {
  override readonly name = "OmniMCPError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The request field the refusal is about, when it is about one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A running local callback server. */
export interface LocalServer {
  /** `http://host:port`: the callback URL to deploy with when the platform reaches this machine. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** One server: its definitions, how to deploy it and how to serve it. */
export class OmniMCP {
  readonly #definitions = new Definitions();
  readonly #apiKey: string | undefined;
  readonly #baseUrl: string;
  #secret: string | undefined;
  readonly #auth: Authenticator;
  readonly #logger: Pick<Console, "info" | "warn">;
  #name = "omnimcp-server";

  constructor(options: OmniMCPOptions = {}) {
    this.#apiKey = (options.apiKey ?? process.env.OMNIMCP_API_KEY)?.trim() || undefined;
    this.#baseUrl = (options.baseUrl ?? process.env.OMNIMCP_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#secret = options.webhookSecret ?? (process.env.OMNIMCP_WEBHOOK_SECRET || undefined);
    this.#logger = options.logger ?? console;
    const windowSeconds = options.replayWindowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
    this.#auth = {
      secret: () => this.#secret,
      replayGuard: new ReplayGuard(windowSeconds),
      windowSeconds,
      onRejected: (rejection: Rejection) => this.#logger.warn(`omnimcp: refused a callback request: ${rejection.message}`),
    };
  }

  /** Adds a tool. `parameters` (JSON Schema `as const`, or zod) types the handler's arguments. */
  tool<const P extends Parameters | undefined = undefined>(definition: ToolDefinition<P>): this {
    this.#definitions.addTool(definition as unknown as ToolDefinition);
    return this;
  }

  /** Adds a resource; `uri` may be an RFC 6570 template (`notes://{id}`). */
  resource(definition: ResourceDefinition): this {
    this.#definitions.addResource(definition);
    return this;
  }

  /** Adds a prompt. */
  prompt(definition: PromptDefinition): this {
    this.#definitions.addPrompt(definition);
    return this;
  }

  /** Sets the webhook secret the callback server checks (e.g. after a rotation done elsewhere). */
  setWebhookSecret(secret: string): void {
    this.#secret = secret;
  }

  /**
   * Publishes (or updates) the server: `POST /api/mcp/deploy`. A first
   * deploy, or `rotateSecret`, returns the webhook secret, which this
   * instance then uses; it is printed once through the logger unless
   * `printSecret` is false, and never again.
   */
  async deploy(options: DeployOptions): Promise<Deployment> {
    if (!this.#apiKey) throw new OmniMCPError(0, "missing_api_key", "no API key: pass apiKey or set OMNIMCP_API_KEY");
    if (!validName(options.name)) {
      throw new OmniMCPError(0, "invalid_field", "use 1-64 letters, digits, _ or - for the name", "name");
    }
    try {
      new URL(options.callbackUrl);
    } catch {
      throw new OmniMCPError(0, "invalid_field", `not a URL: ${options.callbackUrl}`, "callbackUrl");
    }
    const { tools, resources, prompts } = await this.#definitions.manifest();
    const body = {
      name: options.name,
      description: options.description ?? "",
      hostingType: "developer_hosted",
      callbackUrl: options.callbackUrl.replace(/\/+$/, ""),
      tools,
      resources,
      prompts,
      tags: options.tags ?? [],
      rotateSecret: options.rotateSecret ?? false,
      ...(options.category ? { category: options.category } : {}),
      ...(options.version ? { version: options.version } : {}),
    };
    const response = await fetch(`${this.#baseUrl}/api/mcp/deploy`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.#apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = (await response.json().catch(() => ({}))) as Record<string, any>;
    if (!response.ok) {
      const error = answer.error ?? {};
      throw new OmniMCPError(
        response.status,
        String(error.code ?? "unknown"),
        String(error.message ?? `HTTP ${response.status}`),
        error.field,
      );
    }
    this.#name = options.name;
    const deployment: Deployment = { serverId: answer.serverId, slug: answer.slug, created: Boolean(answer.created) };
    if (typeof answer.webhookSecret === "string") {
      this.#secret = answer.webhookSecret;
      deployment.webhookSecret = new WebhookSecret(answer.webhookSecret);
      if (options.printSecret ?? true) {
        this.#logger.info(
          `omnimcp: the webhook secret of ${answer.slug} (shown once; set OMNIMCP_WEBHOOK_SECRET to it where the server runs): ${answer.webhookSecret}`,
        );
      }
    }
    return deployment;
  }

  /**
   * Serving needs a secret, or an API key whose `deploy()` will bring one:
   * until then every request is refused (401), so a server started before
   * its first deploy (to know its URL) never runs a call unsigned.
   */
  #requireSecret(): void {
    if (this.#secret !== undefined) return;
    if (this.#apiKey === undefined) {
      throw new OmniMCPError(
        0,
        "missing_webhook_secret",
        "no webhook secret: deploy first, pass webhookSecret or set OMNIMCP_WEBHOOK_SECRET",
      );
    }
    this.#logger.warn("omnimcp: no webhook secret yet: every request is refused until deploy() issues one");
  }

  /** A Node `http` / Express handler for the callback protocol (mount it before any body parser). */
  nodeHandler(): NodeHandler {
    this.#requireSecret();
    return nodeHandler(this.#definitions, this.#auth);
  }

  /** The same, named for Express: `app.use("/omnimcp", server.expressHandler())`. */
  expressHandler(): NodeHandler {
    return this.nodeHandler();
  }

  /** A Fastify plugin: `await app.register(server.fastifyPlugin(), { prefix: "/omnimcp" })`. */
  fastifyPlugin(): ReturnType<typeof fastifyPlugin> {
    this.#requireSecret();
    return fastifyPlugin(this.#definitions, this.#auth);
  }

  /** A `(Request) => Response` handler for serverless platforms. */
  fetchHandler(): FetchHandler {
    this.#requireSecret();
    return fetchHandler(this.#definitions, this.#auth);
  }

  /**
   * Serves the callback protocol on `host:port` (default 127.0.0.1, and a
   * free port when `port` is 0 or absent). Refuses to start without a
   * webhook secret, unless an API key's `deploy()` is to bring it.
   */
  async startLocal(options: { port?: number; host?: string } = {}): Promise<LocalServer> {
    const handler = this.nodeHandler();
    const server: Server = createServer(handler);
    const host = options.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const shown = host.includes(":") ? `[${host}]` : host;
    return {
      url: `http://${shown}:${port}`,
      port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  /** Serves the same definitions as a stdio MCP server (the official SDK), until stdin closes. */
  async serveStdio(info: { name?: string; version?: string } = {}): Promise<StdioServer> {
    return serveStdio(this.#definitions, { name: info.name ?? this.#name, version: info.version ?? "0.1.0" });
  }
}
