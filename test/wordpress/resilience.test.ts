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

/**
 * A proxy in front of the shared WordPress, so a test can take "WordPress" down or lose responses
 * without disturbing the other test files that use the same php -S.
 */
interface Proxy {
  url: string;
  port: number;
  /** "lose-response": forward the request, wait for WordPress' answer, then cut the client's connection. */
  mode: "up" | "lose-response";
  lost: number;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

async function startProxy(target: string, port = 0): Promise<Proxy> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    proxy.inFlight++;
    proxy.maxInFlight = Math.max(proxy.maxInFlight, proxy.inFlight);
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          proxy.inFlight--;
          if (proxy.mode === "lose-response" && proxy.lost === 0) {
            proxy.lost++;
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    out.on("error", () => {
      proxy.inFlight--;
      res.writeHead(502).end();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const actual = (server.address() as AddressInfo).port;
  const proxy: Proxy = {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    mode: "up",
    lost: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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
