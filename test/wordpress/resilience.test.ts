import http from "node:http";
import type { AddressInfo } from "node:net";
import { UpstreamError } from "../../src/core/errors";
import {
  describeWithWordPress,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";
import { freePort, startProxy } from "../helpers/wordpress-proxy";

describeWithWordPress("WordPress site when WordPress fails", (wp: WordPressTarget) => {
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  it("reports WordPress down as 'transient' after its retries, and creates the user once when retried after it is back", async () => {
    const port = await freePort();
    const attempts: Array<number | "error"> = [];
    const site = makeTestSite(
      { ...wp, url: `http://127.0.0.1:${port}` },
      { maxRetries: 2, metrics: { onRequest: ({ status }) => attempts.push(status) } },
    );
    const login = uniqueName("down");
    const write = { fields: { email: `${login}@example.test` }, roles: ["subscriber"] };

    const error = await site.createUser(login, write, uniqueName("entra")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: "transient", source: "wordpress" });
    expect((error as Error).message).toContain("ECONNREFUSED");
    expect(attempts.filter((a) => a === "error")).toHaveLength(3);

    const proxy = await startProxy(wp.url, port); // WordPress is back, at the same address
    try {
      const created = await site.createUser(login, write, uniqueName("entra"));
      users.add(created.id);
      const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${encodeURIComponent(login)}`);
      expect(found.body.map((u: { id: number }) => u.id)).toEqual([created.id]);
    } finally {
      await proxy.close();
    }
  });

  it("returns the user a lost-response create made instead of a duplicate or a collision", async () => {
    const proxy = await startProxy(wp.url);
    try {
      proxy.mode = "lose-response";
      const site = makeTestSite({ ...wp, url: proxy.url }, { maxRetries: 2 });
      const login = uniqueName("lost");
      const entraId = uniqueName("entra");
      const created = await site.createUser(login, { fields: { email: `${login}@example.test` } }, entraId);
      users.add(created.id);
      expect(proxy.lost).toBe(1);
      expect(created).toMatchObject({ username: login, meta: { entra_object_id: entraId } });
      const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${encodeURIComponent(login)}`);
      expect(found.body).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it("keeps at most `concurrency` requests in flight however many calls the engine fires", async () => {
    const proxy = await startProxy(wp.url);
    try {
      const site = makeTestSite({ ...wp, url: proxy.url }, { concurrency: 3 });
      const { selfId } = await site.info();
      proxy.maxInFlight = 0;
      await Promise.all(Array.from({ length: 15 }, () => site.getUser(selfId)));
      expect(proxy.maxInFlight).toBeLessThanOrEqual(3);
      expect(proxy.maxInFlight).toBeGreaterThan(1);
    } finally {
      await proxy.close();
    }
  });

  it("gives up on a request that takes longer than the timeout", async () => {
    const server = http.createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const site = makeTestSite({ ...wp, url: `http://127.0.0.1:${port}` }, { timeoutMs: 100, maxRetries: 1 });
      const error = await site.getUser(1).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: "transient" });
      expect((error as Error).message).toContain("timed out");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
