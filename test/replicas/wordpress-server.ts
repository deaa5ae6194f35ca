/**
 * The fake WordPress (tools/fake-wordpress.ts) behind the REST routes the real Site client uses,
 * over HTTP, so service processes spawned by a test can write to it when no real WordPress is
 * configured (WP_URL). Creates can be slowed down (a step is then long enough to kill a process in
 * the middle of it); a create is applied even when its client has gone, as WordPress does.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { UpstreamError } from "../../src/core/errors";
import type { WpUser } from "../../src/core/users";
import { FakeSite } from "../../tools/fake-wordpress";

export interface FakeWordPressServer {
  url: string;
  username: string;
  appPassword: string;
  site: FakeSite;
  /** Milliseconds each create waits before it is applied. */
  createDelayMs: number;
  /** Creates received but not answered yet. */
  createsInFlight(): number;
  /** Successful creates per e-mail (lower case): every value must be 1. */
  createsByEmail: Map<string, number>;
  close(): Promise<void>;
}

const PLAIN = ["email", "first_name", "last_name", "name", "nickname", "description", "url"];

export async function startFakeWordPress(options: { createDelayMs?: number } = {}): Promise<FakeWordPressServer> {
  const site = new FakeSite();
  let inFlight = 0;
  const server = createServer((req, res) => {
    read(req)
      .then((raw) => handle(req, res, raw))
      .catch((error: unknown) => {
        const e = error as UpstreamError;
        const code = e instanceof UpstreamError ? (e.details.code ?? "error") : "internal";
        const status =
          e instanceof UpstreamError ? (e.kind === "exists" ? 500 : e.kind === "not-found" ? 404 : 400) : 500;
        if (!res.headersSent) send(res, status, { code, message: String((error as Error).message), data: null });
      });
  });
  const wp: FakeWordPressServer = {
    url: "",
    username: "admin",
    appPassword: "fake fake fake fake fake fake",
    site,
    createDelayMs: options.createDelayMs ?? 0,
    createsInFlight: () => inFlight,
    createsByEmail: new Map(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = url.pathname.replace(/^\/wp-json/, "");
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const id = /^\/wp\/v2\/users\/(\d+)$/.exec(route)?.[1];
    if (route === "/wp/v2/users/me") return send(res, 200, { id: site.selfId });
    if (route === "/wp/v2/users" && req.method === "GET") return list(res, url.searchParams);
    // The users route's schema, as a WordPress without plugins registering user meta describes it.
    if (route === "/wp/v2/users" && req.method === "OPTIONS") {
      return send(res, 200, {
        schema: { properties: { meta: { type: "object", properties: { persisted_preferences: { type: "object" } } } } },
      });
    }
    if (route === "/wp/v2/users" && req.method === "POST") {
      inFlight++;
      try {
        await new Promise((resolve) => setTimeout(resolve, wp.createDelayMs));
        const created = await site.createUser(String(body.username ?? ""), writeOf(body), "");
        const email = created.email.toLowerCase();
        wp.createsByEmail.set(email, (wp.createsByEmail.get(email) ?? 0) + 1);
        return send(res, 201, created);
      } finally {
        inFlight--;
      }
    }
    if (id && req.method === "GET") {
      const user = await site.getUser(Number(id));
      return user
        ? send(res, 200, user)
        : send(res, 404, { code: "rest_user_invalid_id", message: "Invalid user ID." });
    }
    if (id && req.method === "POST") return send(res, 200, await site.updateUser(Number(id), writeOf(body)));
    if (id && req.method === "DELETE") {
      await site.deleteUser(Number(id), Number(url.searchParams.get("reassign")));
      return send(res, 200, { deleted: true });
    }
    // The companion plugin's route, among others: not installed here.
    return send(res, 404, {
      code: "rest_no_route",
      message: "No route was found matching the URL and request method.",
    });
  }

  function list(res: ServerResponse, query: URLSearchParams): void {
    const perPage = Number(query.get("per_page") ?? "10");
    const page = Number(query.get("page") ?? "1");
    const search = query.get("search")?.toLowerCase();
    let users = site.all().sort((a, b) => a.id - b.id);
    if (search)
      users = users.filter((u) => [u.username, u.email, u.name].some((v) => v.toLowerCase().includes(search)));
    const totalPages = Math.max(1, Math.ceil(users.length / perPage));
    if (page > totalPages && users.length > 0) {
      send(res, 400, {
        code: "rest_invalid_page_number",
        message: "The page number requested is larger than the number of pages available.",
      });
      return;
    }
    res.setHeader("x-wp-total", String(users.length));
    res.setHeader("x-wp-totalpages", String(totalPages));
    send(res, 200, users.slice((page - 1) * perPage, page * perPage));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  wp.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return wp;
}

function writeOf(body: Record<string, unknown>): { fields: Record<string, string>; roles?: string[] } {
  const fields: Record<string, string> = {};
  for (const key of PLAIN) if (typeof body[key] === "string") fields[key] = body[key] as string;
  return Array.isArray(body.roles) ? { fields, roles: body.roles as string[] } : { fields };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
  res.end(JSON.stringify(body));
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      data += chunk;
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

export type { WpUser };
