/**
 * Tests against a real WordPress. Start one with `eval "$(scripts/wordpress-local.sh)"`.
 * Other test files use the same WordPress at the same time: never assume it is empty, give every
 * user a unique login/e-mail (uniqueName) and delete what you create (trackUsers).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pino from "pino";
import type { Site } from "../../src/sync/ports";
import { makeWordPressSite, type WordPressSiteOptions } from "../../src/wordpress";

export interface WordPressTarget {
  url: string;
  username: string;
  appPassword: string;
  /** WP_DOCROOT: its files (scripts/wordpress-local.sh prints it), for tests that run PHP on them; absent for a remote one. */
  docroot?: string;
}

/** WP_URL / WP_USERNAME / WP_APP_PASSWORD (or another prefix, e.g. WP_PLAIN_), null when WP_URL is unset. */
export function wordpressFromEnv(prefix = "WP_"): WordPressTarget | null {
  const url = process.env[`${prefix}URL`];
  if (!url) return null;
  return {
    url,
    username: process.env[`${prefix}USERNAME`] ?? "",
    appPassword: process.env[`${prefix}APP_PASSWORD`] ?? "",
    ...(process.env[`${prefix}DOCROOT`] ? { docroot: process.env[`${prefix}DOCROOT`] } : {}),
  };
}

/**
 * describe() that runs only with a WordPress configured. Without one it prints one line and skips,
 * unless REQUIRE_WORDPRESS=1 (CI; or the variable named by requiredBy), where a missing WordPress
 * fails the suite instead.
 */
export function describeWithWordPress(
  name: string,
  fn: (wp: WordPressTarget) => void,
  options: { prefix?: string; howToStart?: string; requiredBy?: string } = {},
): void {
  const prefix = options.prefix ?? "WP_";
  const requiredBy = options.requiredBy ?? "REQUIRE_WORDPRESS";
  const wp = wordpressFromEnv(prefix);
  if (wp) {
    describe(name, () => fn(wp));
    return;
  }
  const hint =
    `WordPress tests skipped: set ${prefix}URL, ${prefix}USERNAME and ${prefix}APP_PASSWORD, or run ` +
    (options.howToStart ?? 'eval "$(scripts/wordpress-local.sh)"');
  if (process.env[requiredBy] === "1") {
    describe(name, () => {
      it(`has a WordPress to test against (${requiredBy}=1)`, () => {
        throw new Error(hint.replace("skipped", "required"));
      });
    });
    return;
  }
  process.stderr.write(`${hint} [${name}]\n`);
  // The suite body is not run: it would build sites from an empty URL.
  describe(name, () => it.skip("needs a WordPress (see above)", () => {}));
}

export const quietLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

export function makeTestSite(wp: WordPressTarget, overrides: Partial<WordPressSiteOptions> = {}): Site {
  return makeWordPressSite({ ...wp, concurrency: 4, logger: quietLogger, retryBaseMs: 20, ...overrides });
}

/** A name no other test (or test run) uses: `prefix-<12 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

/**
 * Raw REST call as the test's admin, for setup and checks the Site port does not offer. A user write
 * that the companion plugin answers 503 entra_wp_sync_rolled_back (it lost a database deadlock to
 * another suite's writes, and nothing of it was written: plugin section 10) is sent again, as the
 * plugin asks; wpFetchOnce shows that answer.
 */
export async function wpFetch(
  ...args: Parameters<typeof wpFetchOnce>
  // biome-ignore lint/suspicious/noExplicitAny: raw REST bodies, checked by the tests' expectations
): Promise<{ status: number; body: any; headers: Headers }> {
  for (let attempt = 1; ; attempt++) {
    const res = await wpFetchOnce(...args);
    if (res.status !== 503 || res.body?.code !== "entra_wp_sync_rolled_back" || attempt === 5) return res;
  }
}

/** wpFetch without sending a rolled-back write again. */
export async function wpFetchOnce(
  wp: WordPressTarget,
  method: string,
  route: string,
  body?: unknown,
  auth: { username: string; password: string } = { username: wp.username, password: wp.appPassword },
  headers: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: raw REST bodies, checked by the tests' expectations
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${wp.url.replace(/\/+$/, "")}/wp-json${route}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/**
 * PHP on the test WordPress's own files (wp.docroot; another database connection, so it sees committed
 * rows only): `code` runs after wp-load.php, with `env` in its environment; returns what it echoes
 * (not what WordPress's bootstrap may print before it).
 */
export function phpOnWordPress(wp: WordPressTarget, code: string, env: Record<string, string> = {}): string {
  if (!wp.docroot) throw new Error("WP_DOCROOT is not set: run scripts/wordpress-local.sh again (it prints it)");
  const script = `
    $_SERVER['HTTP_HOST'] = ${JSON.stringify(new URL(wp.url).host)}; $_SERVER['REQUEST_URI'] = '/';
    define('WP_USE_THEMES', false);
    require ${JSON.stringify(join(wp.docroot, "wp-load.php"))};
    echo "\n@@";
    ${code}`;
  const out = execFileSync("php", ["-r", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  return out.slice(out.lastIndexOf("\n@@") + 3);
}

/** The password form of wp-login.php: true when WordPress logs the user in (302 + auth cookie). */
export async function formLogin(wp: WordPressTarget, log: string, pwd: string): Promise<boolean> {
  return (await formSession(wp, log, pwd)) !== null;
}

/**
 * The password form of wp-login.php at `wp.url` (a network's site: its own wp-login.php): the
 * session's cookies as a Cookie header when WordPress logs the user in (302 + logged-in cookie),
 * else null.
 */
export async function formSession(wp: WordPressTarget, log: string, pwd: string): Promise<string | null> {
  const url = wp.url.replace(/\/+$/, "");
  const res = await fetch(`${url}/wp-login.php`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: "wordpress_test_cookie=WP%20Cookie%20check",
    },
    body: new URLSearchParams({ log, pwd, testcookie: "1", redirect_to: `${url}/wp-admin/` }).toString(),
  });
  await res.text();
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]!);
  if (res.status !== 302 || !cookies.some((c) => c.startsWith("wordpress_logged_in_"))) return null;
  return cookies.join("; ");
}

/** Whether WordPress takes a request with these cookies to come from a signed-in user (wp-admin answers, no redirect to wp-login.php). */
export async function cookieSignedIn(wp: WordPressTarget, cookies: string): Promise<boolean> {
  const res = await fetch(`${wp.url.replace(/\/+$/, "")}/wp-admin/profile.php`, {
    redirect: "manual",
    headers: { cookie: cookies },
  });
  await res.text();
  return res.status === 200;
}

/** Collects ids of users a test created and deletes them (posts reassigned to the admin) afterwards. */
export function trackUsers(wp: WordPressTarget): { add(id: number): number; cleanup(): Promise<void> } {
  const ids = new Set<number>();
  return {
    add(id) {
      ids.add(id);
      return id;
    },
    async cleanup() {
      const me = await wpFetch(wp, "GET", "/wp/v2/users/me");
      await Promise.all(
        [...ids].map((id) => wpFetch(wp, "DELETE", `/wp/v2/users/${id}?force=true&reassign=${me.body.id}`)),
      );
      ids.clear();
    },
  };
}

/**
 * A new user with that role and an Application Password of its own, as an administrator makes them
 * (tracked for deletion): the caller a test sends requests as.
 */
export async function makeUserWithPassword(
  wp: WordPressTarget,
  users: { add(id: number): number },
  role: string,
  prefix: string,
): Promise<{ id: number; username: string; password: string }> {
  const username = uniqueName(prefix);
  const created = await wpFetch(wp, "POST", "/wp/v2/users", {
    username,
    email: `${username}@example.test`,
    password: `Pw-${uniqueName("x")}`,
    roles: [role],
  });
  expect(created.status).toBe(201);
  users.add(created.body.id);
  const app = await wpFetch(wp, "POST", `/wp/v2/users/${created.body.id}/application-passwords`, {
    name: uniqueName("app"),
  });
  expect(app.status).toBe(201);
  return { id: created.body.id, username, password: app.body.password };
}
