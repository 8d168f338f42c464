// `npm pack` makes a tarball that works when installed: its files, its types, its import.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const project = dirname(dirname(fileURLToPath(import.meta.url)));

test("npm pack makes an installable package with its types", async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "mg-ts-pack-"));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const output = execFileSync("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: project, encoding: "utf8" });
  const [packed] = JSON.parse(output);
  const files = packed.files.map((file) => file.path).sort();
  assert.deepEqual(files, ["README.md", "index.d.ts", "index.js", "package.json"]);
  const modules = join(tmp, "app", "node_modules", "memory-gateway");
  mkdirSync(modules, { recursive: true });
  execFileSync("tar", ["-xzf", join(tmp, packed.filename), "-C", modules, "--strip-components=1"]);
  assert.ok(existsSync(join(modules, "index.d.ts")));
  const manifest = JSON.parse(readFileSync(join(modules, "package.json"), "utf8"));
  assert.deepEqual(manifest.dependencies ?? {}, {}, "zero dependencies");
  writeFileSync(join(tmp, "app", "check.mjs"), `
    import { MemoryGateway, RateLimitError } from "memory-gateway";
    process.env.MEMORY_API_KEY = "mem_live_" + "a".repeat(32);
    const client = new MemoryGateway();
    if (client.baseUrl !== "http://localhost:8080" && !process.env.MEMORY_API_URL) throw new Error(client.baseUrl);
    if (typeof RateLimitError !== "function") throw new Error("no RateLimitError");
    console.log("import ok");
  `);
  const env = { ...process.env };
  delete env.MEMORY_API_URL;
  const run = execFileSync("node", ["check.mjs"], { cwd: join(tmp, "app"), encoding: "utf8", env });
  assert.match(run, /import ok/);
});
