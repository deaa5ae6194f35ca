/**
 * Shared set-up for tests that run the service as it is deployed: its configuration from
 * environment variables (loadConfig), Graph through the simulator over HTTPS, and a WordPress:
 * the real one when WP_URL is set (CI), else the fake WordPress over HTTP. Users get a per-test
 * e-mail domain so tests sharing a real WordPress never see each other's users.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { type Config, loadConfig } from "../../src/config";
import type { WpUser } from "../../src/core/users";
import { type GraphSimulator, makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { trackUsers, wordpressFromEnv, wpFetch } from "../helpers/wordpress";
import { type FakeWordPressServer, startFakeWordPress } from "./wordpress-server";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
export const SIGNING_KEY = { kid: "t1", secret: "a-test-signing-secret-of-32-chars-or-more" };

export interface WordPressUnderTest {
  url: string;
  username: string;
  appPassword: string;
  /** The fake one (null against a real WordPress): slow creates, counters. */
  fake: FakeWordPressServer | null;
  /** The users whose e-mail is in the domain. */
  usersIn(domain: string): Promise<WpUser[]>;
  close(): Promise<void>;
}

export async function startWordPress(options: { createDelayMs?: number } = {}): Promise<WordPressUnderTest> {
  const real = wordpressFromEnv();
  if (!real) {
    const fake = await startFakeWordPress(options);
    return {
      url: fake.url,
      username: fake.username,
      appPassword: fake.appPassword,
      fake,
      usersIn: async (domain) => fake.site.all().filter((u) => u.email.toLowerCase().endsWith(`@${domain}`)),
      close: () => fake.close(),
    };
  }
  const seen: string[] = [];
  const usersIn = async (domain: string): Promise<WpUser[]> => {
    if (!seen.includes(domain)) seen.push(domain);
    const users: WpUser[] = [];
    for (let page = 1; ; page++) {
      const res = await wpFetch(real, "GET", `/wp/v2/users?context=edit&per_page=100&page=${page}&search=${domain}`);
      if (res.status !== 200 || !Array.isArray(res.body)) break;
      users.push(...(res.body as WpUser[]).filter((u) => u.email.toLowerCase().endsWith(`@${domain}`)));
      if (res.body.length < 100) break;
    }
    return users;
  };
  return {
    ...real,
    fake: null,
    usersIn,
    async close() {
      const tracker = trackUsers(real);
      for (const domain of seen) for (const user of await usersIn(domain)) tracker.add(user.id);
      await tracker.cleanup();
    },
  };
}

/**
 * A simulated tenant of n users in a fresh e-mail domain and with fresh object ids (the seed): a
 * real WordPress shared by test files matches by entra_object_id first, so a fixed seed would
 * adopt another test's users.
 */
export async function startTenant(users: number): Promise<{ sim: GraphSimulator; domain: string }> {
  const domain = `t${randomBytes(5).toString("hex")}.example.org`;
  const seed = randomBytes(4).readUInt32BE(0);
  const sim = await startGraphSimulator({ tenant: makeTenant({ users, domain, seed }) });
  return { sim, domain };
}

/** The environment of a service instance against this database, simulator and WordPress. */
export function serviceEnv(
  databaseUrl: string,
  sim: GraphSimulator,
  wp: Pick<WordPressUnderTest, "url" | "username" | "appPassword">,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    ADMIN_TOKEN,
    LINK_SIGNING_KEYS: `${SIGNING_KEY.kid}:${SIGNING_KEY.secret}`,
    AZURE_TENANT_ID: sim.tenantId,
    AZURE_CLIENT_ID: sim.clientId,
    AZURE_CLIENT_SECRET: sim.clientSecret,
    AZURE_AUTHORITY_HOST: sim.url,
    GRAPH_BASE_URL: sim.url,
    WP_URL: wp.url,
    WP_USERNAME: wp.username,
    WP_APP_PASSWORD: wp.appPassword,
    SYNC_PAGE_SIZE: "10",
    SYNC_MISSING: "none",
    DRIVER_INTERVAL_MS: "100",
    ...extra,
  };
}

export function configOf(env: Record<string, string>): Config {
  return loadConfig(env);
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export const CLI = path.resolve(__dirname, "../../dist/src/cli/index.js");

/** Only what a child needs from the test's own environment (the simulator's CA certificate above all). */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "NODE_EXTRA_CA_CERTS", "TMPDIR", "LANG"];
  return { ...Object.fromEntries(keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : []))), ...env };
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The children a test file starts: any still running is killed (SIGKILL) after each test. */
export function killedAfterEach(): RunningCli[] {
  const children: RunningCli[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.child.exitCode === null) child.child.kill("SIGKILL");
  });
  return children;
}

/** The URL a `serve` child logged once it listens, or null before that. */
export function listeningUrl(cli: RunningCli): string | null {
  for (const line of cli.stdout().split("\n")) {
    if (line.includes("entra-wp-sync is listening")) return (JSON.parse(line) as { url: string }).url;
  }
  return null;
}

/** Waits for a `serve` child to listen; fails at once, with its output, when it exited instead. */
export function waitForListening(cli: RunningCli, timeoutMs = 30_000): Promise<string> {
  return waitFor(
    "the service to listen",
    async () => {
      if (cli.child.exitCode !== null) throw new Error(`the service exited: ${cli.stderr()}${cli.stdout()}`);
      return listeningUrl(cli);
    },
    timeoutMs,
  );
}
