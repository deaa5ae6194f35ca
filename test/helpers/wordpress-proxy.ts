import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A proxy in front of the shared WordPress, so a test can take "WordPress" down or lose responses
 * without disturbing the other test files that use the same php -S.
 */
export interface Proxy {
  url: string;
  port: number;
  /**
   * "lose-response": forward the request, wait for WordPress' answer, then cut the client's connection.
   * "answer-500": forward it, wait for the answer, then answer HTTP 500 instead (PHP died after the
   * writes it had committed). Both hit the first request only (counted in `lost`).
   */
  mode: "up" | "lose-response" | "answer-500";
  /** A status to answer "METHOD /path" with, without forwarding it (a firewall), or null to forward. */
  refuse: ((request: string) => number | null) | null;
  /**
   * Awaited once WordPress has answered "METHOD /path" and before the answer is relayed: what it does
   * in WordPress happens after the client's request was answered and before its next one (a change
   * made by someone else between the service's read and its write), or null.
   */
  beforeRelay: ((request: string) => Promise<void>) | null;
  lost: number;
  /** "METHOD /path" of every request, in order of arrival. */
  requests: string[];
  /** "METHOD /path" and WordPress's answer (status, body text) of every request answered, in order of answer. */
  answers: Array<{ request: string; status: number; body: string }>;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startProxy(target: string, port = 0): Promise<Proxy> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    proxy.requests.push(`${req.method} ${req.url}`);
    const refusal = proxy.refuse?.(`${req.method} ${req.url}`);
    if (refusal) {
      res.writeHead(refusal, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "blocked_by_proxy", message: "Blocked by a firewall in front of WordPress" }));
      return;
    }
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
        answer.on("end", async () => {
          await proxy.beforeRelay?.(`${req.method} ${req.url}`);
          proxy.inFlight--;
          proxy.answers.push({
            request: `${req.method} ${req.url}`,
            status: answer.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
          });
          if (proxy.mode === "lose-response" && proxy.lost === 0) {
            proxy.lost++;
            req.socket.destroy();
            return;
          }
          if (proxy.mode === "answer-500" && proxy.lost === 0) {
            proxy.lost++;
            res.writeHead(500, { "content-type": "text/html" }).end("<b>Fatal error</b>");
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
    refuse: null,
    beforeRelay: null,
    lost: 0,
    requests: [],
    answers: [],
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

export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
