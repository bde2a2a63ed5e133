#!/usr/bin/env node
// Copies every model package (models/<id>/ with a manifest.json) into the local R2 bucket that
// `wrangler dev` uses, under the key "<id>/<file>" (models/FORMAT.md).
// Usage: npm run seed [-- --persist-to <dir>]   (default: wrangler's own .wrangler/state)
// SEED_MODELS_DIR=<dir> seeds the packages of another folder instead of models/.
// The tests do not use this: vitest.config.ts seeds miniflare's R2 from the same listing, see there.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
const BUCKET = "edgeclip-models"; // wrangler.toml [[r2_buckets]] bucket_name of the MODELS binding

/**
 * Every file of every model package under `modelsDir`, as { key, path }.
 * A package is a folder holding a manifest.json; files in sub-folders keep their relative path.
 * @param {string} modelsDir
 * @returns {{ key: string, path: string }[]}
 */
export function modelPackageFiles(modelsDir = join(ROOT, "models")) {
  if (!existsSync(modelsDir)) return [];
  const files = [];
  for (const id of readdirSync(modelsDir).sort()) {
    const dir = join(modelsDir, id);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, "manifest.json"))) continue;
    for (const path of walk(dir)) files.push({ key: `${id}/${relative(dir, path).split("\\").join("/")}`, path });
  }
  return files;
}

/** @param {string} dir @returns {string[]} */
function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
}

function main() {
  const args = process.argv.slice(2);
  const files = modelPackageFiles(process.env.SEED_MODELS_DIR ? resolve(process.env.SEED_MODELS_DIR) : undefined);
  if (files.length === 0) {
    console.log("seed-r2: no model packages (models/<id>/manifest.json) to seed");
    return;
  }
  const wrangler = join(ROOT, "node_modules", ".bin", "wrangler");
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };
  for (const { key, path } of files) {
    // One wrangler process per object (~1 s each): `r2 object put` takes a single object.
    execFileSync(wrangler, ["r2", "object", "put", `${BUCKET}/${key}`, "--file", path, "--local", ...args], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "ignore", "inherit"],
    });
    console.log(`seed-r2: ${key} (${statSync(path).size} bytes)`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
