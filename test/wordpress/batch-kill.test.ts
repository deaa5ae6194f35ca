/**
 * A batch whose PHP process dies, or whose client gives up, in the middle of its transaction, on
 * the real WordPress and MariaDB. The test runs a php -S of its own over the shared WordPress's
 * files and database, with a test-only hook (this server's router only, never the shared one's)
 * that makes PHP stall inside the batch, after earlier operations were applied, when it registers
 * a user whose login starts with "stall-". Then:
 * - SIGKILL of that PHP process: the database rolls the open transaction back (nothing of the
 *   batch is left, not even the operations before the stall), and the retried request writes
 *   each user once.
 * - the client giving up (connection closed): PHP does not notice, finishes and commits the whole
 *   batch; the retried request answers each create with the user already there, creating nobody twice,
 *   also when it comes while the abandoned batch still runs (batches naming the same users take turns:
 *   it waits for that commit); a batch of other users runs beside it.
 * - the database rolling the transaction back in the middle (the victim of a deadlock; the hook does
 *   it for a login starting with "victim-"): the batch answers 503 and writes nothing, neither the
 *   operations before (which the database undid) nor those after (which would otherwise be
 *   committed one statement at a time); the retried request writes each user once.
 * Counted with SQL in the WordPress database itself: no user row or meta row without the other.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { waitFor } from "../helpers/reliability";
import {
  describeWithWordPress,
  phpOnWordPress,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";
import { freePort } from "../helpers/wordpress-proxy";

const BATCH = "/entra-wp-sync/v1/users/batch";

/** The test-only hook: WordPress's pre-initialized hooks ($wp_filter set before WordPress loads). */
const STALL_HOOK = `<?php
$GLOBALS['wp_filter']['user_register'][10][] = array('accepted_args' => 1, 'function' => function ($user_id) {
    $user = get_userdata($user_id);
    if ($user && strpos($user->user_login, 'stall-') === 0) {
        file_put_contents(getenv('STALL_MARKER'), (string) $user_id);
        sleep((int) getenv('STALL_SECONDS'));
    }
    if ($user && strpos($user->user_login, 'victim-') === 0) {
        // What MariaDB does to the victim of a deadlock: the whole transaction is rolled back, and ends.
        $GLOBALS['wpdb']->query('ROLLBACK');
    }
});
`;

interface StallingServer {
  url: string;
  marker: string;
  child: ChildProcess;
  exited: Promise<NodeJS.Signals | number | null>;
  stop(): Promise<void>;
}

async function startStallingServer(docroot: string, dir: string, stallSeconds: number): Promise<StallingServer> {
  const port = await freePort();
  const marker = join(dir, `marker-${port}`);
  writeFileSync(join(dir, "hook.php"), STALL_HOOK);
  // php -S applies no auto_prepend_file to its router: this router loads the hook, then the shared one.
  writeFileSync(
    join(dir, "router.php"),
    `<?php\nrequire ${JSON.stringify(join(dir, "hook.php"))};\nreturn require ${JSON.stringify(join(dirname(docroot), "router.php"))};\n`,
  );
  // One process, no PHP_CLI_SERVER_WORKERS: the server process is the one running the batch.
  const { PHP_CLI_SERVER_WORKERS: _, ...env } = process.env;
  const child = spawn("php", ["-S", `127.0.0.1:${port}`, "-t", docroot, join(dir, "router.php")], {
    env: { ...env, STALL_MARKER: marker, STALL_SECONDS: String(stallSeconds) },
    stdio: "ignore",
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor("the stalling php -S to answer", async () => (await fetch(`${url}/wp-json/`)).ok);
  return {
    url,
    marker,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Rows in WordPress's own tables, read by PHP on the same files (another connection: committed rows only). */
function rowsOf(wp: WordPressTarget, logins: string[], entraIds: string[]): { users: number; meta: number } {
  const php = `
    global $wpdb;
    $in = function ($values) use ($wpdb) { return implode(',', array_map(function ($v) use ($wpdb) { return $wpdb->prepare('%s', $v); }, $values)); };
    echo json_encode(array(
      'users' => (int) $wpdb->get_var("SELECT COUNT(*) FROM $wpdb->users WHERE user_login IN (" . $in(json_decode(getenv('LOGINS'))) . ")"),
      'meta' => (int) $wpdb->get_var("SELECT COUNT(*) FROM $wpdb->usermeta WHERE meta_key = 'entra_object_id' AND meta_value IN (" . $in(json_decode(getenv('ENTRA_IDS'))) . ")"),
    ));`;
  const out = phpOnWordPress(wp, php, { LOGINS: JSON.stringify(logins), ENTRA_IDS: JSON.stringify(entraIds) });
  return JSON.parse(out) as { users: number; meta: number };
}

function post(url: string, wp: WordPressTarget, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/wp-json${BATCH}`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${wp.username}:${wp.appPassword}`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
    signal,
  });
}

describeWithWordPress("a batch cut off mid-transaction (real PHP and MariaDB)", (wp) => {
  const users = trackUsers(wp);
  let dir: string;
  const servers: StallingServer[] = [];
  beforeAll(() => {
    if (!wp.docroot) throw new Error("WP_DOCROOT is not set: run scripts/wordpress-local.sh again (it prints it)");
    dir = mkdtempSync(join(tmpdir(), "ews-batch-kill-"));
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await users.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An existing user to update, and three creates of which the second stalls. */
  async function aBatch(stalling = "stall-b") {
    const existingLogin = uniqueName("kill-existing");
    const created = await wpFetch(wp, "POST", "/wp/v2/users", {
      username: existingLogin,
      email: `${existingLogin}@example.test`,
      password: `${existingLogin}-Pw-0123456789`,
      first_name: "Before",
    });
    const existing = users.add(created.body.id);
    const logins = [uniqueName("kill-a"), uniqueName(stalling), uniqueName("kill-c")];
    const entraIds = logins.map(() => randomUUID());
    const operations = [
      { op: "update", id: existing, body: { first_name: "Half applied?" } },
      ...logins.map((login, n) => ({
        op: "create",
        body: {
          username: login,
          email: `${login}@example.test`,
          password: `${login}-Pw-0123456789`,
          meta: { entra_object_id: entraIds[n] },
        },
      })),
    ];
    return { existing, logins, entraIds, operations };
  }

  async function retryTwice(operations: unknown[]): Promise<string[][]> {
    const outcomes: string[][] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await post(wp.url, wp, { operations });
      expect(res.status).toBe(200);
      const { results } = (await res.json()) as { results: Array<{ outcome: string; user?: { id: number } }> };
      for (const result of results) if (result.user) users.add(result.user.id);
      outcomes.push(results.map((r) => r.outcome));
    }
    return outcomes;
  }

  it("rolls back everything when PHP is killed mid-batch, and the retry writes each user once", async () => {
    const server = await startStallingServer(wp.docroot!, dir, 60);
    servers.push(server);
    const { existing, logins, entraIds, operations } = await aBatch();
    const answer = post(server.url, wp, { operations }).then(
      (res) => `answered ${res.status}`,
      () => "no answer",
    );
    // PHP is inside the transaction: the update and the first create are applied there, not committed.
    await waitFor("PHP to stall in the batch", () => existsSync(server.marker), 30_000);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 0, meta: 0 });
    server.child.kill("SIGKILL");
    expect(await server.exited).toBe("SIGKILL");
    expect(await answer).toBe("no answer");

    // Nothing of the batch survived: no user row, no meta row, the update undone.
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 0, meta: 0 });
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${existing}?context=edit`)).body.first_name).toBe("Before");

    // The retry (twice, as after a lost answer) writes each user once.
    expect(await retryTwice(operations)).toEqual([
      ["updated", "created", "created", "created"],
      ["updated", "existing", "existing", "existing"],
    ]);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${existing}?context=edit`)).body.first_name).toBe("Half applied?");
  });

  it("commits the whole batch when the client gives up mid-batch, and the retry creates nobody twice", async () => {
    const server = await startStallingServer(wp.docroot!, dir, 2);
    servers.push(server);
    const { existing, logins, entraIds, operations } = await aBatch();
    const abort = new AbortController();
    const answer = post(server.url, wp, { operations }, abort.signal).then(
      (res) => `answered ${res.status}`,
      () => "no answer",
    );
    await waitFor("PHP to stall in the batch", () => existsSync(server.marker), 30_000);
    const stalledAt = Number(readFileSync(server.marker, "utf8"));
    expect(stalledAt).toBeGreaterThan(0);
    abort.abort();
    expect(await answer).toBe("no answer");
    // php -S does not stop a script whose client went away: it finishes the batch and commits it.
    await waitFor("the abandoned batch to commit", () => rowsOf(wp, logins, entraIds).users === 3, 30_000);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });

    expect(await retryTwice(operations)).toEqual([
      ["updated", "existing", "existing", "existing"],
      ["updated", "existing", "existing", "existing"],
    ]);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${existing}?context=edit`)).body.first_name).toBe("Half applied?");
  });

  it("makes a batch sent again while the abandoned one still runs wait for its commit, and creates nobody twice", async () => {
    // Long enough that the abandoned batch has not committed when the retry comes, even on a loaded machine.
    const server = await startStallingServer(wp.docroot!, dir, 10);
    servers.push(server);
    const { logins, entraIds, operations } = await aBatch();
    const abort = new AbortController();
    const answer = post(server.url, wp, { operations }, abort.signal).then(
      (res) => `answered ${res.status}`,
      () => "no answer",
    );
    await waitFor("PHP to stall in the batch", () => existsSync(server.marker), 30_000);
    abort.abort();
    expect(await answer).toBe("no answer");
    // At once, as a service whose step deadline cut the first attempt short: the abandoned batch has
    // not committed yet, so its users are invisible to this one's login and e-mail checks.
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 0, meta: 0 });
    const res = await post(wp.url, wp, { operations });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ outcome: string; user?: { id: number } }> };
    for (const result of results) if (result.user) users.add(result.user.id);
    expect(results.map((r) => r.outcome)).toEqual(["updated", "existing", "existing", "existing"]);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });
  });

  it("makes a retry that names the abandoned batch's users in another batch wait for its commit too", async () => {
    const server = await startStallingServer(wp.docroot!, dir, 3);
    servers.push(server);
    const { logins, entraIds, operations } = await aBatch();
    const abort = new AbortController();
    const answer = post(server.url, wp, { operations }, abort.signal).then(
      (res) => `answered ${res.status}`,
      () => "no answer",
    );
    await waitFor("PHP to stall in the batch", () => existsSync(server.marker), 30_000);
    abort.abort();
    expect(await answer).toBe("no answer");
    // As an engine step that is redone: the same creates, grouped otherwise (in reverse, with a newcomer).
    const newcomer = uniqueName("kill-new");
    const regrouped = [
      {
        op: "create",
        body: { username: newcomer, email: `${newcomer}@example.test`, password: `${newcomer}-Pw-0123456789` },
      },
      ...operations.slice(1).reverse(),
    ];
    const res = await post(wp.url, wp, { operations: regrouped });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ outcome: string; user?: { id: number } }> };
    for (const result of results) if (result.user) users.add(result.user.id);
    expect(results.map((r) => r.outcome)).toEqual(["created", "existing", "existing", "existing"]);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });
  });

  it("makes a create of the same login in other letter case wait for the stalled batch and refuses it, never a second account", async () => {
    const server = await startStallingServer(wp.docroot!, dir, 3);
    servers.push(server);
    const { logins, entraIds, operations } = await aBatch();
    const answer = post(server.url, wp, { operations }).then(async (res) => {
      const { results } = (await res.json()) as { results: Array<{ user?: { id: number } }> };
      for (const result of results) if (result.user) users.add(result.user.id);
      return res.status;
    });
    await waitFor("PHP to stall in the batch", () => existsSync(server.marker), 30_000);
    // The database compares logins without case (its collation), as WordPress's check does.
    const shouted = logins[1]!.toUpperCase();
    const res = await post(wp.url, wp, {
      operations: [
        {
          op: "create",
          body: { username: shouted, email: `other-${logins[1]}@example.test`, password: `${shouted}-Pw-0123456789` },
        },
      ],
    });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as {
      results: Array<{ outcome: string; code?: string; user?: { id: number } }>;
    };
    for (const result of results) if (result.user) users.add(result.user.id);
    expect(results.map((r) => [r.outcome, r.code])).toEqual([["failed", "existing_user_login"]]);
    expect(await answer).toBe(200);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });
  });

  it("runs a batch of other users beside a stalled one instead of waiting for its commit", async () => {
    const server = await startStallingServer(wp.docroot!, dir, 20);
    servers.push(server);
    const stalled = await aBatch();
    const answer = post(server.url, wp, { operations: stalled.operations }).then(async (res) => {
      const { results } = (await res.json()) as { results: Array<{ user?: { id: number } }> };
      for (const result of results) if (result.user) users.add(result.user.id);
      return res.status;
    });
    await waitFor("PHP to stall in the batch", () => existsSync(server.marker), 30_000);
    const other = await aBatch("kill-b");
    const res = await post(wp.url, wp, { operations: other.operations });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ outcome: string; user?: { id: number } }> };
    for (const result of results) if (result.user) users.add(result.user.id);
    expect(results.map((r) => r.outcome)).toEqual(["updated", "created", "created", "created"]);
    // Answered while the stalled batch had still committed nothing: they ran side by side.
    expect(rowsOf(wp, stalled.logins, stalled.entraIds)).toEqual({ users: 0, meta: 0 });
    expect(await answer).toBe(200);
    expect(rowsOf(wp, stalled.logins, stalled.entraIds)).toEqual({ users: 3, meta: 3 });
  });

  it("writes nothing and answers 503 when the database rolls the batch back midway (a deadlock), and the retry writes each user once", async () => {
    const server = await startStallingServer(wp.docroot!, dir, 0);
    servers.push(server);
    const { existing, logins, entraIds, operations } = await aBatch("victim-b");
    const res = await post(server.url, wp, { operations });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe("entra_wp_sync_batch_rolled_back");
    // Neither the operations the database undid nor the ones after it are left.
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 0, meta: 0 });
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${existing}?context=edit`)).body.first_name).toBe("Before");

    expect(await retryTwice(operations)).toEqual([
      ["updated", "created", "created", "created"],
      ["updated", "existing", "existing", "existing"],
    ]);
    expect(rowsOf(wp, logins, entraIds)).toEqual({ users: 3, meta: 3 });
  });
});
