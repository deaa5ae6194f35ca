/**
 * The service killed (SIGKILL) in the middle of SCIM requests, as deployed (`node dist/src/cli/index.js
 * serve`, configured from variables): a write it acknowledged is never lost, and a write whose
 * answer the provider never got creates no second account when the provider retries. WordPress
 * answers creates slowly (a proxy holds its answers), so the kill lands while a create it already
 * made is unanswered and another write waits behind it.
 */
import fs from "node:fs";
import path from "node:path";
import { makeTestDatabase } from "../helpers/db";
import { makeTempDir } from "../helpers/leftovers";
import { startSlowHttpProxy } from "../helpers/reliability";
import { ADMIN_TOKEN, killedAfterEach, startCli, startWordPress, waitFor, waitForListening } from "../replicas/setup";
import { entraUser } from "./setup";

const children = killedAfterEach();

describe("a service killed in the middle of SCIM requests", () => {
  it("keeps every write it acknowledged, and the provider's retry of an unanswered one creates no second account", async () => {
    const wp = await startWordPress();
    const proxy = await startSlowHttpProxy(wp.url);
    const db = await makeTestDatabase();
    const domain = `k${Date.now().toString(36)}.example.org`;
    try {
      const jobsFile = path.join(makeTempDir("ews-scim-kill-"), "jobs.json");
      fs.writeFileSync(jobsFile, JSON.stringify({ jobs: [{ id: "entra", source: { kind: "scim" } }] }));
      const env = {
        DATABASE_URL: db.url!,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        ADMIN_TOKEN,
        PUBLIC_URL: "https://sync.example.test",
        WP_URL: proxy.url,
        WP_USERNAME: wp.username,
        WP_APP_PASSWORD: wp.appPassword,
        SYNC_JOBS_FILE: jobsFile,
        DRIVER_INTERVAL_MS: "100",
        // The killed process's lease on the run it was applying expires soon after.
        STEP_BUDGET_MS: "2000",
        LEASE_MS: "3000",
      };
      const first = startCli(["serve"], env);
      children.push(first);
      let url = await waitForListening(first);
      const minted = await fetch(`${url}/v1/jobs/entra/scim-tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: "{}",
      });
      const { token } = (await minted.json()) as { token: string };
      const scim = (base: string, method: string, route: string, body?: unknown) =>
        fetch(`${base}/scim/v2/entra${route}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });

      // WordPress makes the account at once but its answer is held: the service never learns its id.
      proxy.slowMethods = new Set(["POST"]);
      proxy.delayMs = 600_000;
      const acknowledged = entraUser(domain, 1);
      const answered = await scim(url, "POST", "/Users", acknowledged);
      expect(answered.status).toBe(201);
      const acknowledgedId = ((await answered.json()) as { id: string }).id;
      expect(proxy.forwarded.POST).toBeGreaterThan(0);

      // A second write is stored and waits behind the first; the service dies before it answers.
      const unanswered = entraUser(domain, 2);
      const inFlight = scim(url, "POST", "/Users", unanswered).then(
        (response) => response.status,
        () => "no answer" as const,
      );
      await waitFor(
        "the second write to be stored",
        async () =>
          (await db.pool.query("select 1 from scim_users where user_name = $1::text", [unanswered.userName])).rows
            .length > 0,
      );
      first.child.kill("SIGKILL");
      expect(await inFlight).toBe("no answer");
      proxy.delayMs = 0;
      proxy.release();

      const second = startCli(["serve"], env);
      children.push(second);
      url = await waitForListening(second);
      const users = await waitFor(
        "both writes in WordPress",
        async () => {
          const found = await wp.usersIn(domain);
          return found.length >= 2 ? found : null;
        },
        60_000,
      );
      expect(users.map((user) => user.email).sort()).toEqual([acknowledged.userName, unanswered.userName]);
      const read = await scim(url, "GET", `/Users/${acknowledgedId}`);
      expect(await read.json()).toMatchObject({ userName: acknowledged.userName, active: true });

      // Entra's retry: it looks the user up first and finds it; a create sent again is refused.
      const lookup = await scim(
        url,
        "GET",
        `/Users?filter=${encodeURIComponent(`userName eq "${unanswered.userName}"`)}`,
      );
      expect(await lookup.json()).toMatchObject({ totalResults: 1 });
      const again = await scim(url, "POST", "/Users", unanswered);
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ scimType: "uniqueness" });
      expect((await wp.usersIn(domain)).map((user) => user.email).sort()).toEqual([
        acknowledged.userName,
        unanswered.userName,
      ]);
      expect(first.stdout() + second.stdout()).not.toContain(token);
    } finally {
      await proxy.close();
      await db.close();
      await wp.close();
    }
  }, 180_000);
});
