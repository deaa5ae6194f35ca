/**
 * entra_wp_sync_wordpress_requests_total carries what a real WordPress answered: its HTTP status
 * and its error code (a duplicate login comes back as HTTP 500 existing_user_login, a bad address
 * as 400 rest_user_invalid_email when it belongs to another user), as the client sees each exchange,
 * or, for writes batched through the companion plugin, as each operation of the batch was answered.
 */
import { makeMetrics } from "../../src/observe/metrics";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName } from "../helpers/wordpress";
import { parseExposition, sampleValue } from "../observe/prom-text";

const REQUESTS = "entra_wp_sync_wordpress_requests_total";
const BATCHES = "entra_wp_sync_wordpress_batch_requests_total";

describeWithWordPress("WordPress request metrics", (wp) => {
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  // The same writes one request per user, and through the companion plugin's batch endpoint, where
  // each operation is counted as its own request would have been and the batch exchange apart.
  it.each([
    ["one request per user", false],
    ["batched", true],
  ])("counts a 500 and a 400 under WordPress's own error codes (%s)", async (_, bulk) => {
    const metrics = makeMetrics();
    const site = makeTestSite(wp, { metrics: metrics.wordpressHook, bulk });
    const login = uniqueName("metric");
    const write = { fields: { email: `${login}@example.test` }, roles: ["subscriber"] };
    users.add((await site.createUser(login, write, uniqueName("entra"))).id);

    await expect(site.createUser(login, write, uniqueName("entra"))).rejects.toMatchObject({ kind: "exists" });
    // Another user's address on update: the users controller's own check (400 rest_user_invalid_email).
    const other = uniqueName("other");
    const otherId = (await site.createUser(other, { fields: { email: `${other}@example.test` } }, uniqueName("entra")))
      .id;
    users.add(otherId);
    await expect(site.updateUser(otherId, { fields: { email: write.fields.email } })).rejects.toMatchObject({
      kind: "invalid",
      details: { status: 400, code: "rest_user_invalid_email" },
    });

    const exposition = parseExposition(await metrics.registry.metrics());
    const count = (status: string, code: string) => sampleValue(exposition, REQUESTS, { method: "POST", status, code });
    expect(count("201", "none")).toBe(2);
    expect(count("500", "existing_user_login")).toBe(1);
    expect(count("400", "rest_user_invalid_email")).toBe(1);
    // Batches are not also counted as POST 200s: each write was counted once, by its own answer.
    expect(count("200", "none")).toBe(0);
    expect(sampleValue(exposition, BATCHES, { status: "200", code: "none" })).toBe(bulk ? 4 : 0);
  });
});
