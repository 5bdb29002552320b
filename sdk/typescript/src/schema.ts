/**
 * A tool's `parameters`: a JSON Schema, or a zod schema (zod 4, or zod
 * 3.25's `zod/v4`), as the official TypeScript MCP SDK takes. Handler
 * arguments are typed from either: zod's output type, or, for a JSON
 * Schema written `as const`, its properties (required ones required).
 *
 * zod is optional: this module never imports it unless a zod schema is
 * given, and then only to turn it into the JSON Schema the platform
 * publishes.
 *
 * @module
 */

/** A JSON Schema (the subset the platform stores for a tool's input). */
export interface JsonSchema {
  type?: string | readonly string[];
  properties?: { readonly [name: string]: JsonSchema };
  required?: readonly string[];
  items?: JsonSchema;
  enum?: readonly unknown[];
  description?: string;
  [keyword: string]: unknown;
}

/** What this SDK needs of a zod schema (zod 3.25+ and 4 both have it). */
export interface ZodLike<Output = unknown> {
  safeParse(data: unknown):
    | { success: true; data: Output }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
  readonly _output?: Output;
}

/** Either kind of parameters. */
export type Parameters = JsonSchema | ZodLike;

/** The value a JSON Schema (written `as const`) describes. */
export type FromSchema<T> = T extends { type: "string" }
  ? T extends { enum: ReadonlyArray<infer E> }
    ? E
    : string
  : T extends { type: "number" | "integer" }
    ? number
    : T extends { type: "boolean" }
      ? boolean
      : T extends { type: "null" }
        ? null
        : T extends { type: "array"; items: infer I }
          ? Array<FromSchema<I>>
          : T extends { type: "array" }
            ? unknown[]
            : T extends { type: "object" }
              ? ObjectOf<T>
              : unknown;

/** The object a JSON Schema of `type: "object"` describes: required properties required, others optional. */
export type ObjectOf<T> = T extends { properties: infer P }
  ? T extends { required: ReadonlyArray<infer R> }
    ? { [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> } & {
        [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>;
      }
    : { [K in keyof P]?: FromSchema<P[K]> }
  : Record<string, unknown>;


/** A handler's arguments, from its tool's parameters. */
export type ArgumentsOf<P> = P extends { _output?: infer O }
  ? unknown extends O
    ? P extends ZodLike<infer Z>
      ? Z
      : FromSchema<P>
    : O
  : P extends ZodLike<infer Z>
    ? Z
    : FromSchema<P>;

/** Whether `p` is a zod schema rather than a JSON Schema. */
export function isZod(p: unknown): p is ZodLike {
  return typeof p === "object" && p !== null && typeof (p as ZodLike).safeParse === "function";
}

/** Loads a module by a name the compiler does not follow (zod is optional). */
async function load(name: string): Promise<Record<string, unknown>> {
  return (await import(name)) as Record<string, unknown>;
}

/**
 * The JSON Schema the platform publishes for `parameters`: a JSON Schema
 * as it is, a zod schema converted by zod itself.
 */
export async function jsonSchemaOf(parameters: Parameters | undefined): Promise<JsonSchema> {
  if (parameters === undefined) return { type: "object", properties: {} };
  if (!isZod(parameters)) return parameters;
  for (const name of ["zod", "zod/v4"]) {
    let zod: Record<string, unknown>;
    try {
      zod = await load(name);
    } catch {
      continue;
    }
    const convert = (zod.toJSONSchema ?? (zod.z as Record<string, unknown> | undefined)?.toJSONSchema) as
      | ((schema: unknown, options?: unknown) => JsonSchema)
      | undefined;
    if (typeof convert === "function") {
      const { $schema: _ignored, ...schema } = convert(parameters, { io: "input", unrepresentable: "any" });
      return schema;
    }
  }
  throw new Error("a zod schema was given as parameters, but zod 4 (or zod 3.25+ with zod/v4) could not be loaded");
}

/** Arguments that do not fit the tool's parameters: what is wrong, and where. */
export class InvalidArguments extends Error {
  override readonly name = "InvalidArguments";
}

/**
 * Checks and returns a call's arguments. A zod schema parses them (its
 * defaults and transforms apply). A JSON Schema is checked for what the
 * platform may not have checked itself: an object, with its required
 * properties, of the declared basic types (the platform validates the
 * whole schema before it calls).
 */
export function checkArguments(parameters: Parameters | undefined, args: unknown): unknown {
  if (isZod(parameters)) {
    const parsed = parameters.safeParse(args);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "arguments";
    throw new InvalidArguments(`${where}: ${issue?.message ?? "invalid"}`);
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new InvalidArguments("arguments: must be an object");
  }
  const schema = parameters ?? {};
  const object = args as Record<string, unknown>;
  for (const name of schema.required ?? []) {
    if (!(name in object)) throw new InvalidArguments(`${name}: is required`);
  }
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (!(name in object) || typeof property.type !== "string") continue;
    if (!hasType(object[name], property.type)) {
      throw new InvalidArguments(`${name}: must be of type ${property.type}`);
    }
  }
  return object;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "integer":
      return Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "null":
      return value === null;
    default:
      return true;
  }
}
