/**
 * A hostile directory against the REAL WordPress: names with quotes, markup, emoji, 256 characters,
 * right-to-left text and control characters, and two Entra users sharing one e-mail. The users
 * arrive as text (read back with context=edit), nobody is lost but the documented duplicate, which
 * is a failed item with a clear error, and the admin API and status page never render the markup.
 */

// light-my-request (app.inject) is not used here, but the status page check goes over real HTTP.
import { loadConfig } from "../../src/config";
import { type Server, serve } from "../../src/main";
import { type GraphSimulator, makeTenant, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { logSink } from "../helpers/log-sink";
import {
  callLink,
  deleteWordPressUsersOf,
  driveToEnd,
  expectConsistentDatabase,
  linkToken,
  RELIABILITY_ADMIN_TOKEN,
  runRow,
  serviceEnv,
  uniqueDomain,
  wordpressUsersOf,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

/** Hostile users, each with its own address on the test's domain (but the two sharing one). */
function hostileUsers(domain: string): Record<string, Partial<Omit<SimUser, "id">>> {
  const at = (local: string) => ({ mail: `${local}@${domain}`, userPrincipalName: `${local}@${domain}` });
  return {
    quotes: {
      ...at("quotes"),
      givenName: "Robert'); DROP TABLE users;--",
      surname: 'O"Quote`s',
      displayName: `"Bobby" O'Tables`,
    },
    markup: {
      ...at("markup"),
      givenName: "<b>Bold</b>",
      surname: "<img src=x onerror=alert(1)>Smith",
      displayName: "<script>alert(1)</script>Evil",
    },
    emoji: { ...at("emoji"), givenName: "🙂", surname: "👩‍💻 Dev", displayName: "🙂 Smiley 👩‍💻" },
    rtl: { ...at("rtl"), givenName: "مرحبا", surname: "עברית", displayName: "\u202Eevil\u202C مرحبا עברית" },
    dupA: {
      mail: `dup@${domain}`,
      userPrincipalName: `dup.a@${domain}`,
      givenName: "Dup",
      surname: "A",
      displayName: "Dup A",
    },
    dupB: {
      mail: `dup@${domain}`,
      userPrincipalName: `dup.b@${domain}`,
      givenName: "Dup",
      surname: "B",
      displayName: "Dup B",
    },
  };
}

describeWithWordPress("a malicious tenant against the real WordPress", (wp) => {
  const domain = uniqueDomain("hostile");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let server: Server | null = null;
  const byLabel = new Map<string, SimUser>();

  beforeAll(async () => {
    db = await makeTestDatabase();
    const tenant = makeTenant({ users: 0, seed: 7, domain });
    for (const [label, fields] of Object.entries(hostileUsers(domain))) byLabel.set(label, tenant.addUser(fields));
    sim = await startGraphSimulator({ tenant });
  });
  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  itWithPostgres(
    "stores hostile names as text, loses nobody but one of two users sharing an e-mail (a failed item), and escapes them in the API and status page",
    async () => {
      const env = serviceEnv({ databaseUrl: db.url!, sim, wp, pageSize: 100, extra: { STATUS_PUBLIC: "false" } });
      server = await serve(loadConfig(env), { print: () => undefined, logDestination: logSink().destination });
      const cont = await linkToken(server!.runtime, "continue");
      const runId: string = (await callLink(server.url, "start", await linkToken(server!.runtime, "start"))).body.run
        .id;
      const last = await driveToEnd(server.url, cont);
      const present = await wordpressUsersOf(wp, domain);
      const items = await (
        await fetch(`${server.url}/v1/runs/${runId}/items?limit=100`, {
          headers: { authorization: `Bearer ${RELIABILITY_ADMIN_TOKEN}` },
        })
      ).json();
      process.stdout.write(
        `[reliability] malicious tenant: run ${JSON.stringify(last.body.run.counts)} ${(await runRow(db.pool, runId)).last_error ?? ""}\n` +
          `  WordPress stored: ${JSON.stringify(present.map(({ username, email, name, first_name, last_name }) => ({ username, email, name, first_name, last_name })))}\n` +
          `  items: ${JSON.stringify(items.items?.map((i: { action: string; status: string; error: string | null; email: string }) => [i.email, i.action, i.status, i.error]))}\n`,
      );
      expect(last.body.run).toMatchObject({ state: "completed" });

      // No markup survives in WordPress: WordPress' sanitize_text_field strips tags (script with its content).
      for (const user of present) {
        for (const value of [user.name, user.first_name, user.last_name]) expect(value).not.toMatch(/<\s*[a-z!/]/i);
      }
      const stored = (label: string) => present.find((u) => u.email === byLabel.get(label)!.mail);
      // Text that is not markup arrives unchanged.
      for (const label of ["quotes", "emoji", "rtl"]) {
        const want = byLabel.get(label)!;
        expect(stored(label)).toMatchObject({ first_name: want.givenName, last_name: want.surname });
      }
      expect(stored("markup")).toMatchObject({ first_name: "Bold", last_name: "Smith", name: "Evil" });

      // One WordPress user per e-mail; the second user with that e-mail is a failed item saying why.
      const emails = present.map((u) => u.email.toLowerCase());
      expect(new Set(emails).size).toBe(emails.length);
      expect(emails.sort()).toEqual(
        ["quotes", "markup", "emoji", "rtl", "dup"].map((l) => `${l}@${domain}`.toLowerCase()).sort(),
      );
      const dupItems = items.items.filter((i: { email: string }) => i.email === `dup@${domain}`);
      expect(dupItems.map((i: { status: string }) => i.status).sort()).toEqual(["failed", "ok"]);
      const failed = dupItems.find((i: { status: string }) => i.status === "failed");
      expect(failed.error).toMatch(/e-?mail/i);
      const all = [...byLabel.values()].map((u) => u.id);
      await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: all,
        failedIds: [failed.entraId],
      });

      // The admin API returns the names as JSON strings; the status page escapes whatever it shows.
      const itemsRes = await fetch(`${server.url}/v1/runs/${runId}/items?limit=100`, {
        headers: { authorization: `Bearer ${RELIABILITY_ADMIN_TOKEN}` },
      });
      expect(itemsRes.headers.get("content-type")).toMatch(/^application\/json/);
      const status = await fetch(`${server.url}/status`, {
        headers: { authorization: `Bearer ${RELIABILITY_ADMIN_TOKEN}` },
      });
      const html = await status.text();
      expect(status.status).toBe(200);
      expect(html).not.toContain("<script>alert(1)</script>");
      expect(html).not.toContain("<img src=x");

      // A second run converges: nothing to write, nothing failing but the same duplicate.
      await callLink(server.url, "start", await linkToken(server!.runtime, "start"));
      const again = await driveToEnd(server.url, cont);
      expect(again.body.run).toMatchObject({ state: "completed", counts: { created: 0, updated: 0, failed: 1 } });
    },
    120_000,
  );

  itWithPostgres(
    "creates a user whose names are 256 characters long without failing the run (WordPress keeps display names of up to 250)",
    async () => {
      const longDb = await makeTestDatabase();
      const longDomain = uniqueDomain("longname");
      const tenant = makeTenant({ users: 3, seed: 8, domain: longDomain });
      const long = tenant.addUser({
        mail: `long@${longDomain}`,
        userPrincipalName: `long@${longDomain}`,
        givenName: "G".repeat(256),
        surname: "S".repeat(256),
        displayName: "L".repeat(256),
      });
      const longSim = await startGraphSimulator({ tenant });
      const env = serviceEnv({ databaseUrl: longDb.url!, sim: longSim, wp, pageSize: 100, maxFailedSteps: 3 });
      const longServer = await serve(loadConfig(env), {
        print: () => undefined,
        logDestination: logSink().destination,
      });
      try {
        const cont = await linkToken(longServer.runtime, "continue");
        const runId: string = (await callLink(longServer.url, "start", await linkToken(longServer.runtime, "start")))
          .body.run.id;
        const last = await driveToEnd(longServer.url, cont);
        process.stdout.write(
          `[reliability] 256-character names: ${last.body.run.state}, ${JSON.stringify(last.body.run.counts)} ${(await runRow(longDb.pool, runId)).last_error ?? ""}\n`,
        );
        // WordPress 6.1 answers a display name over 250 characters with a PHP fatal (HTTP 500): the
        // users.display_name column is varchar(250), the insert fails silently and the REST
        // controller then calls add_role on `false`. One such user must not fail the whole run.
        expect(last.body.run).toMatchObject({ state: "completed", counts: { seen: 4 } });
        const stored = (await wordpressUsersOf(wp, longDomain)).find((u) => u.email === long.mail);
        expect(stored?.first_name).toBe("G".repeat(256));
        expect(stored?.name.length).toBeLessThanOrEqual(250);
        const all = [...tenant.users()].map((u) => u.id);
        await expectConsistentDatabase(longDb.pool, runId, { state: "completed", entraIds: all });
      } finally {
        await longServer.close();
        await longSim.close();
        await deleteWordPressUsersOf(wp, longDomain).catch(() => undefined);
        await longDb.close();
      }
    },
    120_000,
  );
});
