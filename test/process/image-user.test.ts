/**
 * `cp .env.example .env && docker compose up`, without a container engine: the built service run
 * as the image runs it. An unprivileged user (the image's `node`; here `nobody`) in a root-owned
 * working directory (the image's /app), with the environment the container gets: the Dockerfile's
 * ENV, then .env.example as compose's env_file applies it, then the compose file's `environment:`.
 * Only the parts this machine has no equivalent for are mapped: the image's /data is a directory
 * of its own owned by that user (as the Dockerfile's chown makes it), the compose file's
 * PostgreSQL is the test database, and the port is a free one.
 *
 * The first start used to die on .env.example's DATA_DIR=./data with an EACCES stack trace after
 * storing the admin token's hash, so the next start used a token nobody had.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Pool } from "pg";
import { parse } from "yaml";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { makeTempDir } from "../helpers/leftovers";
import { poll } from "../helpers/sandbox";

const ROOT = path.resolve(__dirname, "../..");
const NOBODY = 65534;
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** The ENV lines of the Dockerfile's last stage (the runtime image). */
function imageEnv(): Record<string, string> {
  const stages = read("Dockerfile").split(/^FROM /m);
  const env: Record<string, string> = {};
  for (const line of stages.at(-1)!.matchAll(/^ENV (.+)$/gm)) {
    for (const pair of line[1]!.trim().split(/\s+/)) {
      const at = pair.indexOf("=");
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  return env;
}

/** A file as compose's env_file reads it: KEY=VALUE lines; blank lines and # comments skipped. */
function envFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim() || line.trimStart().startsWith("#")) continue;
    const at = line.indexOf("=");
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

/** The compose service's `environment:` with ${NAME:-default} taken from the .env file. */
function composeEnvironment(dotEnv: Record<string, string>): Record<string, string> {
  const compose = parse(read("docker-compose.yml")) as {
    services: { service: { environment?: Record<string, string> } };
  };
  return Object.fromEntries(
    Object.entries(compose.services.service.environment ?? {}).map(([name, value]) => [
      name,
      value.replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_, key: string, fallback?: string) =>
        dotEnv[key] ? dotEnv[key]! : (fallback ?? ""),
      ),
    ]),
  );
}

/** The image's /app: owned by root, the user may only read it. */
function appDir(): string {
  const dir = makeTempDir("ews-image-app-");
  fs.chmodSync(dir, 0o755);
  for (const name of ["dist", "node_modules", "migrations", "package.json"]) {
    fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  }
  return dir;
}

/** The image's /data: `mkdir -p /data && chown node:node /data`. */
function ownedDataDir(): string {
  const dir = makeTempDir("ews-image-data-");
  fs.chownSync(dir, NOBODY, NOBODY);
  return dir;
}

interface Started {
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(): void;
}

function startAsImageUser(cwd: string, env: Record<string, string>): Started {
  const child = spawn(
    "setpriv",
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, "dist/src/cli/index.js", "serve"],
    { cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { stdout: () => out, stderr: () => err, exited, stop: () => child.kill("SIGTERM") };
}

async function listening(started: Started): Promise<string> {
  let exitCode: number | null | undefined;
  void started.exited.then((code) => {
    exitCode = code;
  });
  return poll("the service to listen", 45_000, () => {
    if (exitCode !== undefined) throw new Error(`the service exited with ${exitCode}: ${started.stderr()}`);
    const line = started
      .stdout()
      .split("\n")
      .find((text) => text.includes("entra-wp-sync is listening"));
    return line ? (JSON.parse(line) as { url: string }).url : undefined;
  });
}

const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot("the service as the Docker image runs it, with .env.example as the compose file's .env", () => {
  /** A fresh database per start-up story: the compose file's PostgreSQL. */
  async function database(): Promise<{ url: string; pool: Pool }> {
    const db = await makeTestDatabase();
    opened.push(db);
    return { url: db.url!, pool: db.pool };
  }
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(() => Promise.all(opened.map((db) => db.close())));

  /** The container's environment, with /data and the compose file's PostgreSQL mapped as said above. */
  function containerEnv(
    databaseUrl: string,
    dataDir: string,
    change: Record<string, string> = {},
  ): Record<string, string> {
    const image = { ...imageEnv(), DATA_DIR: dataDir };
    const dotEnv = { ...envFile(read(".env.example")), ...change };
    return {
      ...image,
      ...dotEnv,
      ...composeEnvironment(dotEnv),
      DATABASE_URL: databaseUrl,
      PORT: "0",
      HOST: "127.0.0.1",
    };
  }

  // The compose file always names a PostgreSQL server.
  itWithPostgres(
    "starts as the unprivileged user, writes the generated admin token to its DATA_DIR, and the token opens the admin API after a restart",
    async () => {
      const db = await database();
      const dataDir = ownedDataDir();
      const cwd = appDir();
      const first = startAsImageUser(cwd, containerEnv(db.url, dataDir));
      const url = await listening(first);
      const file = path.join(dataDir, "admin-token");
      const token = fs.readFileSync(file, "utf8").trim();
      expect(fs.statSync(file)).toMatchObject({ uid: NOBODY, mode: expect.any(Number) });
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const authorization = `Bearer ${token}`;
      expect((await fetch(`${url}/v1/jobs`, { headers: { authorization } })).status).toBe(200);
      first.stop();
      expect(await first.exited).toBe(0);
      expect(fs.readdirSync(cwd).sort()).toEqual(["dist", "migrations", "node_modules", "package.json"]);

      const second = startAsImageUser(cwd, containerEnv(db.url, dataDir));
      const again = await listening(second);
      try {
        expect(second.stdout()).toContain("using the admin token generated at the first start");
        expect((await fetch(`${again}/v1/jobs`, { headers: { authorization } })).status).toBe(200);
      } finally {
        second.stop();
        await second.exited;
      }
    },
  );

  itWithPostgres(
    "stops with one line and exit 78 when DATA_DIR cannot be created, and stores no admin token hash",
    async () => {
      const db = await database();
      const rootOwned = makeTempDir("ews-image-root-");
      fs.chmodSync(rootOwned, 0o755);
      const dataDir = path.join(rootOwned, "data");
      const started = startAsImageUser(appDir(), containerEnv(db.url, ownedDataDir(), { DATA_DIR: dataDir }));
      expect(await started.exited).toBe(78);
      const lines = started.stderr().trim().split("\n");
      expect(lines).toEqual([
        expect.stringMatching(/^Configuration error: DATA_DIR \(.*\/data\) cannot be used by user nobody .*EACCES/),
      ]);
      const { rows } = await db.pool.query("select name from secrets where name like 'admin_token%'");
      expect(rows).toEqual([]);
      expect(fs.existsSync(dataDir)).toBe(false);
    },
  );
});
