// The package as a developer gets it: `npm pack` in the repository, the
// tarball installed into a new project (from npm's cache where it has the
// package, from the registry where it does not: a fresh machine's cache has
// the lockfile's tarballs but not the metadata a range like `zod@4` needs), the
// README's quick start compiled by TypeScript against the installed
// declarations (typed handler arguments included: a wrong use must not
// compile), then run as ESM and required as CommonJS.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const pkg = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const tsc = join(pkg, "node_modules/typescript/bin/tsc");
const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const quickStart = `
import { OmniMCP } from "@omnimcp/sdk";
import { z } from "zod";

const mcp = new OmniMCP({ apiKey: "omni_test", baseUrl: "http://127.0.0.1:9", webhookSecret: "whsec_x" });
mcp.tool({
  name: "add",
  description: "Adds two numbers",
  parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } as const,
  annotations: { readOnlyHint: true },
  handler: ({ a, b }) => ({ sum: a + b }),
});
mcp.tool({
  name: "greet",
  description: "Greets someone",
  parameters: z.object({ name: z.string().min(1) }),
  handler: ({ name }) => \`Hello, \${name.toUpperCase()}!\`,
});
mcp.resource({ uri: "notes://{id}", name: "Note", read: (_uri, { id }) => \`# Note \${id}\` });
mcp.prompt({ name: "review", description: "Reviews", arguments: [{ name: "topic", required: true }], get: ({ topic }) => \`Review \${topic}\` });
const local = await mcp.startLocal();
console.log(JSON.stringify({ url: local.url.startsWith("http://127.0.0.1:") }));
await local.close();
`;

test("npm pack, install, compile the quick start, run it as ESM and require it as CommonJS", async () => {
  const dir = await mkdtemp(join(tmpdir(), "omnimcp-sdk-pack-"));
  try {
    npm(["pack", "--pack-destination", dir, "--silent"], pkg);
    const tarball = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack made a tarball");
    const app = join(dir, "app");
    await (await import("node:fs/promises")).mkdir(app);
    await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    npm(["install", "--prefer-offline", "--no-audit", "--no-fund", join(dir, tarball), "zod@4"], app);
    const installed = await readdir(join(app, "node_modules/@omnimcp/sdk"));
    assert.deepEqual(installed.sort(), ["README.md", "dist", "package.json", "src"]);

    await writeFile(join(app, "index.ts"), quickStart);
    const tsconfig = { compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, skipLibCheck: true, types: [] } };
    await writeFile(join(app, "tsconfig.json"), JSON.stringify({ ...tsconfig, files: ["index.ts"] }));
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app, encoding: "utf8" });
    const out = execFileSync(process.execPath, ["index.js"], { cwd: app, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out.trim().split("\n").pop()), { url: true });

    // Typed arguments are enforced: a number used as a string does not compile.
    await writeFile(join(app, "wrong.ts"), `import { OmniMCP } from "@omnimcp/sdk";
new OmniMCP().tool({ name: "t", description: "", parameters: { type: "object", properties: { a: { type: "number" } }, required: ["a"] } as const, handler: ({ a }) => a.toUpperCase() });\n`);
    await writeFile(join(app, "tsconfig.wrong.json"), JSON.stringify({ ...tsconfig, files: ["wrong.ts"] }));
    assert.throws(
      () => execFileSync(process.execPath, [tsc, "-p", "tsconfig.wrong.json", "--noEmit"], { cwd: app, encoding: "utf8", stdio: "pipe" }),
      (e) => /toUpperCase/.test(String(e.stdout)),
    );

    const cjs = execFileSync(process.execPath, ["-e", "const sdk = require('@omnimcp/sdk'); console.log(typeof sdk.OmniMCP, typeof sdk.signature.verify)"], {
      cwd: app,
      encoding: "utf8",
    });
    assert.equal(cjs.trim(), "function function");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
