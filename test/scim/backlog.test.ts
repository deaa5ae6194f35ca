/**
 * WordPress down behind a SCIM job: the provider's writes are still accepted (stored before the
 * answer), the backlog shows on /status and in the metrics, past the bound the endpoint answers
 * 503 with Retry-After (nothing stored), and once WordPress is back everything is applied.
 * WordPress is reached through a TCP proxy the test cuts (a real WordPress when WP_URL is set).
 */
import { hostPort, startTcpProxy, type TcpProxy, throughProxy } from "../helpers/reliability";
import { ADMIN_TOKEN, startWordPress, type WordPressUnderTest, waitFor } from "../replicas/setup";
import { entraUser, patchOf, type ScimService, startScimService } from "./setup";

const BOUND = 4;
let wp: WordPressUnderTest;
let proxy: TcpProxy;
let s: ScimService;
beforeAll(async () => {
  wp = await startWordPress();
  proxy = await startTcpProxy(hostPort(wp.url));
  s = await startScimService(
    { ...wp, url: throughProxy(wp.url, proxy) },
    {},
    // Failed steps end a run soon, so a run that failed while WordPress was down is not what holds the test up.
    { MAX_FAILED_STEPS: "2" },
    { scim: { maxBacklog: BOUND, waitMs: 300 } },
  );
});
afterAll(async () => {
  await s?.close();
  await proxy?.close();
  await wp?.close();
});

async function pendingMetric(): Promise<number | null> {
  const metrics = await s.app.inject({ method: "GET", url: "/metrics" });
  const line = metrics.body.split("\n").find((l) => l.startsWith('entra_wp_sync_notifications_pending{job="entra"}'));
  return line ? Number(line.split(" ").pop()) : null;
}

async function statusPage(): Promise<string> {
  const page = await s.app.inject({
    method: "GET",
    url: "/status",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return page.body;
}

describe("a SCIM job while WordPress is down", () => {
  it("accepts writes, shows the backlog, answers 503 with Retry-After past the bound, and applies everything once WordPress is back", async () => {
    const first = entraUser(s.domain, 1);
    const { body: created } = await s.scim("POST", "/Users", first);
    // Waited for here: this test's writes wait only 300 ms for WordPress before they are answered.
    await waitFor("the first user in WordPress", async () => (await wp.usersIn(s.domain)).length === 1);

    proxy.cut();
    const accepted = [];
    for (let n = 2; n <= BOUND; n++) {
      const answer = await s.scim("POST", "/Users", entraUser(s.domain, n));
      expect([n, answer.status]).toEqual([n, 201]);
      accepted.push(answer.body);
    }
    const renamed = await s.scim(
      "PATCH",
      `/Users/${created.id}`,
      patchOf({ op: "Replace", path: "name.familyName", value: "WhileDown" }),
    );
    expect(renamed.status).toBe(200);
    expect(renamed.body.name.familyName).toBe("WhileDown");
    // Readable as stored, though WordPress holds none of it yet.
    for (const user of accepted) expect((await s.scim("GET", `/Users/${user.id}`)).body.userName).toBe(user.userName);

    // BOUND users wait: the next write is refused, and nothing of it is stored.
    const refused = await s.scim("POST", "/Users", entraUser(s.domain, 99));
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("30");
    expect(refused.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "503" });
    const lookup = await s.scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "user99@${s.domain}"`)}`);
    expect(lookup.body.totalResults).toBe(0);
    expect((await s.scim("DELETE", `/Users/${accepted[0].id}`)).status).toBe(503);

    expect(await pendingMetric()).toBe(BOUND);
    expect(await statusPage()).toMatch(new RegExp(`<b>entra</b>: ${BOUND} pending, oldest \\d+ s`));

    proxy.restore();
    const users = await waitFor(
      "WordPress to hold every accepted write",
      async () => {
        const all = await wp.usersIn(s.domain);
        return all.length === BOUND && all.some((u) => u.last_name === "WhileDown") ? all : null;
      },
      60_000,
    );
    expect(users.map((u) => u.email).sort()).toEqual(
      [first.userName, ...accepted.map((u: { userName: string }) => u.userName)].sort(),
    );
    await waitFor("the backlog to drain", async () => (await pendingMetric()) === 0);
    expect((await s.scim("POST", "/Users", entraUser(s.domain, 99))).status).toBe(201);
  });
});
