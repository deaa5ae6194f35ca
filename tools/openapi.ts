/**
 * Writes openapi.yaml from the route schemas: `npm run openapi` after changing a route.
 * test/http/openapi.test.ts regenerates it the same way and fails while the committed file differs.
 *
 * The app is built to read its routes and is never served, so the database, the engine and the
 * links store are stand-ins that throw if anything ever used them.
 */
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../src/config";
import { buildApp } from "../src/http/app";
import { openApiYaml } from "../src/http/openapi";
import { makeLogger } from "../src/logger";
import { makeMetrics } from "../src/observe/metrics";

/** openapi.yaml beside package.json, from tools/ or from dist/tools/ alike. */
function openApiFile(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return path.join(dir, "openapi.yaml");
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

function unused<T>(name: string): T {
  return new Proxy({} as object, {
    get: (_target, property) => {
      throw new Error(`${name}.${String(property)} was used while generating openapi.yaml`);
    },
  }) as T;
}

export async function generateOpenApi(): Promise<string> {
  const app = await buildApp({
    config: loadConfig({}),
    logger: makeLogger({ level: "silent" }),
    db: { kind: "embedded", pool: unused("db.pool"), close: async () => undefined },
    secrets: { adminTokenDigest: Buffer.alloc(32), metricsTokenDigest: null, signingKeys: [], linkAudience: "none" },
    sync: unused("sync"),
    linkCutoffs: unused("linkCutoffs"),
    metrics: makeMetrics(),
  });
  try {
    await app.ready();
    return openApiYaml(app);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  generateOpenApi().then(
    (yaml) => {
      const file = openApiFile();
      fs.writeFileSync(file, yaml);
      console.log(`wrote ${file} (${yaml.length} bytes)`);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
