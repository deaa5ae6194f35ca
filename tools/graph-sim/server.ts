/**
 * A Microsoft Graph + Entra token endpoint simulator on plain node:https. HTTPS is not optional:
 * @azure/identity, MSAL and the Graph client all refuse plain http (graph-api-facts.md §0).
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { type AuthConfig, discovery, TokenStore, token } from "./auth";
import { makeTenant } from "./builder";
import { refuseInCustomerTenant } from "./customer";
import { type Fault, FaultQueue, type SimRoute } from "./faults";
import {
  checkMemberGroups,
  GraphFailure,
  getPhoto,
  getUser,
  listUsers,
  type Reply,
  type RouteContext,
  transitiveMembers,
  usersDelta,
} from "./routes";
import { SubscriptionHub } from "./subscriptions";
import type { SimTenant } from "./tenant";

/** Real Graph's Content-Type; the SDK only parses JSON when the part before ";" is application/json. */
export const GRAPH_CONTENT_TYPE =
  "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

export interface GraphSimulatorOptions {
  port?: number;
  host?: string;
  /** Holds server.pem/server.key and (optionally) client-cert.pem; default .tmp/certs under the cwd. */
  certDir?: string;
  tenant?: SimTenant;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Users per /users/delta page; Graph picks about 200 (MS Q&A 5875141). */
  deltaPageSize?: number;
  tokenLifetimeSeconds?: number;
  /** Entries kept in requestLog (oldest dropped first). */
  requestLogLimit?: number;
}

export interface RequestRecord {
  method: string;
  route: SimRoute;
  /** The tenant the request was for (its token's, or the identity endpoint's); null when neither is known. */
  tenantId: string | null;
  /** Path and query, never headers with credentials. */
  path: string;
  status: number;
  consistencyLevel: string | null;
  fault: Fault["kind"] | null;
}

/**
 * One tenant the simulator serves, with its app registration: a client asks its token endpoint
 * (/{tenantId}/oauth2/v2.0/token) with its client id and secret (or certificate), and Graph answers
 * a request with the directory of the tenant whose token it carries, as real Graph does.
 */
export interface SimulatedTenant {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The directory being served; replace or mutate it freely between requests. */
  tenant: SimTenant;
  faults: FaultQueue;
  /** Change-notification subscriptions and their deliveries (listens to the tenant given at start). */
  notifications: SubscriptionHub;
  /** Invalidates every access token issued so far for this tenant. */
  revokeTokens(): void;
  /**
   * The app's credentials withdrawn (a secret rotated, consent revoked): its tokens stop working
   * and the token endpoint refuses the old secret and the certificate.
   */
  revokeCredentials(): void;
}

/** The simulator: its first tenant (the one it starts with) is the simulator itself. */
export interface GraphSimulator extends SimulatedTenant {
  url: string;
  requestLog: RequestRecord[];
  counters: Record<SimRoute, number>;
  /** Graph requests only (not discovery, token or /__sim). */
  graphRequests(): number;
  resetCounters(): void;
  /** Serves one more tenant, with an app registration of its own (different ids and secret by default). */
  addTenant(options?: TenantOptions): SimulatedTenant;
  close(): Promise<void>;
}

export type TenantOptions = Pick<GraphSimulatorOptions, "tenant" | "tenantId" | "clientId" | "clientSecret">;

/** What the simulator keeps per tenant: the handle tests see, and its app's credentials and tokens. */
interface TenantState {
  handle: SimulatedTenant;
  auth: AuthConfig;
  tokens: TokenStore;
}

const ROUTES: SimRoute[] = [
  "discovery",
  "token",
  "users",
  "user",
  "users.delta",
  "group.transitiveMembers",
  "user.checkMemberGroups",
  "subscriptions",
  "subscription",
  "user.photo",
  "sim",
  "unknown",
];
const GRAPH_ROUTES = new Set<SimRoute>([
  "users",
  "user",
  "users.delta",
  "group.transitiveMembers",
  "user.checkMemberGroups",
  "subscriptions",
  "subscription",
  "user.photo",
]);

export async function startGraphSimulator(options: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  const certDir = options.certDir ?? resolve(process.cwd(), ".tmp/certs");
  const appCertPath = join(certDir, "client-cert.pem");
  const appCertificatePem = existsSync(appCertPath) ? readFileSync(appCertPath, "utf8") : null;
  const counters = Object.fromEntries(ROUTES.map((r) => [r, 0])) as Record<SimRoute, number>;
  const limit = options.requestLogLimit ?? 2000;
  const states = new Map<string, TenantState>();

  /** A tenant's state; `handle` given for the first one, which is the simulator object itself. */
  function serveTenant(spec: TenantOptions, handle?: GraphSimulator): TenantState {
    const tokens = new TokenStore();
    const auth: AuthConfig = {
      origin: sim.url,
      tenantId: spec.tenantId ?? randomUUID(),
      clientId: spec.clientId ?? randomUUID(),
      clientSecret: spec.clientSecret ?? `sim-secret-${randomUUID()}`,
      appCertificatePem,
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    };
    const own: SimulatedTenant = handle ?? {
      tenantId: auth.tenantId,
      clientId: auth.clientId,
      clientSecret: auth.clientSecret,
      tenant: spec.tenant ?? makeTenant(),
      faults: new FaultQueue(),
      notifications: new SubscriptionHub(auth.tenantId),
      revokeTokens: () => {},
      revokeCredentials: () => {},
    };
    own.revokeTokens = () => tokens.revokeAll();
    own.revokeCredentials = () => {
      auth.clientSecret = `sim-revoked-${randomUUID()}`;
      auth.appCertificatePem = null;
      own.clientSecret = auth.clientSecret;
      tokens.revokeAll();
    };
    own.tenant.userListeners.add((id, changeType) => own.notifications.userChanged(id, changeType));
    own.tenant.groupListeners.add((groupId, memberId, removed) =>
      own.notifications.membersChanged(groupId, memberId, removed),
    );
    const state = { handle: own, auth, tokens };
    states.set(auth.tenantId, state);
    return state;
  }

  const first: TenantOptions = {
    tenantId: options.tenantId ?? "7f3e2a10-5c4b-4d0e-9a61-0c2f1e8b7d01",
    clientId: options.clientId ?? "5a1c0b2d-8e7f-4a3b-9c6d-2e1f0a9b8c7d",
    clientSecret: options.clientSecret ?? "sim-secret-do-not-use",
  };
  const sim: GraphSimulator = {
    url: "",
    tenantId: first.tenantId!,
    clientId: first.clientId!,
    clientSecret: first.clientSecret!,
    tenant: options.tenant ?? makeTenant(),
    faults: new FaultQueue(),
    notifications: new SubscriptionHub(first.tenantId!),
    requestLog: [],
    counters,
    graphRequests: () => [...GRAPH_ROUTES].reduce((n, r) => n + counters[r], 0),
    resetCounters: () => {
      for (const r of ROUTES) counters[r] = 0;
      sim.requestLog.length = 0;
    },
    revokeTokens: () => {},
    revokeCredentials: () => {},
    addTenant: (spec = {}) => serveTenant(spec).handle,
    close: async () => {},
  };
  serveTenant(first, sim);
  const primary = states.get(sim.tenantId)!;

  /** The tenant whose valid access token the request carries. */
  function tenantOfToken(bearer: string): TenantState | null {
    for (const state of states.values()) if (state.tokens.isValid(bearer)) return state;
    return null;
  }

  const server = createServer({
    cert: readFileSync(join(certDir, "server.pem")),
    key: readFileSync(join(certDir, "server.key")),
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    readBody(req)
      .then((raw) => handle(req, res, raw))
      .catch((error: unknown) => {
        if (!res.headersSent) sendGraphError(req, res, new GraphFailure(500, "generalException", String(error)));
      });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const url = new URL(req.url ?? "/", sim.url);
    const segments = url.pathname.split("/").filter(Boolean);
    const route = routeOf(req.method ?? "GET", segments);
    counters[route]++;
    const record: RequestRecord = {
      method: req.method ?? "GET",
      route,
      tenantId: null,
      path: url.pathname + url.search,
      status: 0,
      consistencyLevel: header(req, "consistencylevel"),
      fault: null,
    };
    sim.requestLog.push(record);
    if (sim.requestLog.length > limit) sim.requestLog.shift();
    const finish = (status: number) => {
      record.status = status;
    };

    if (route === "discovery" || route === "token") {
      // An unknown tenant is answered by the first one's endpoint, which refuses it as Entra does.
      const { auth, tokens, handle } = states.get(segments[0]!) ?? primary;
      record.tenantId = handle.tenantId === segments[0] ? handle.tenantId : null;
      const reply =
        route === "discovery"
          ? discovery(auth, segments[0]!)
          : token(auth, tokens, segments[0]!, new URLSearchParams(raw));
      finish(reply.status);
      return sendJson(res, reply.status, reply.body, "application/json; charset=utf-8");
    }
    if (route === "sim") {
      const reply = simControl(req, url, raw);
      finish(reply.status);
      return sendJson(res, reply.status, reply.body, "application/json");
    }

    const bearer = /^Bearer (.+)$/i.exec(header(req, "authorization") ?? "")?.[1];
    const state = bearer ? tenantOfToken(bearer) : null;
    if (!state) {
      const failure = bearer
        ? new GraphFailure(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        : new GraphFailure(401, "InvalidAuthenticationToken", "Access token is empty.");
      finish(failure.status);
      return sendGraphError(req, res, failure);
    }
    const served = state.handle;
    record.tenantId = served.tenantId;
    const fault = served.faults.take(route, url.searchParams);
    if (fault) {
      record.fault = fault.kind;
      if (fault.kind === "reset") {
        finish(-1);
        req.socket.destroy();
        return;
      }
      const error = faultFailure(fault, sim.url);
      finish(error.status);
      return sendGraphError(req, res, error);
    }
    try {
      const reply = await graphRoute(served, route, segments, url, req, raw);
      finish(reply.status);
      if (reply.body instanceof Uint8Array) {
        res.writeHead(reply.status, { ...graphHeaders(req), ...reply.headers, "Content-Length": reply.body.length });
        res.end(reply.body);
        return;
      }
      sendJson(res, reply.status, reply.body, GRAPH_CONTENT_TYPE, { ...graphHeaders(req), ...reply.headers });
    } catch (error) {
      if (!(error instanceof GraphFailure)) throw error;
      finish(error.status);
      sendGraphError(req, res, error);
    }
  }

  async function graphRoute(
    served: SimulatedTenant,
    route: SimRoute,
    segments: string[],
    url: URL,
    req: IncomingMessage,
    raw: string,
  ): Promise<Reply> {
    let body: unknown = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new GraphFailure(400, "BadRequest", "Unable to read JSON request payload.");
      }
    }
    const ctx: RouteContext = {
      origin: sim.url,
      tenant: served.tenant,
      pathname: url.pathname,
      params: url.searchParams,
      headers: req.headers,
      body,
      deltaPageSize: options.deltaPageSize ?? 200,
    };
    const id = decodeURIComponent(segments[2] ?? "");
    if (served.tenant.customer) refuseInCustomerTenant(route, ctx, id);
    switch (route) {
      case "users":
        return listUsers(ctx);
      case "users.delta":
        return usersDelta(ctx);
      case "user":
        return getUser(ctx, id);
      case "group.transitiveMembers":
        return transitiveMembers(ctx, id);
      case "user.checkMemberGroups":
        return checkMemberGroups(ctx, id);
      case "subscriptions":
        return served.notifications.create(body);
      case "subscription":
        return req.method === "PATCH" ? served.notifications.renew(id, body) : served.notifications.remove(id);
      case "user.photo":
        return getPhoto(ctx, id, decodeURIComponent(segments[4] ?? ""));
      default:
        throw new GraphFailure(400, "BadRequest", `Resource not found for the segment '${segments[1] ?? ""}'.`);
    }
  }

  /** Test control over HTTP, for the CLI simulator: queue or clear faults, read counters. */
  function simControl(req: IncomingMessage, url: URL, raw: string): Reply {
    const what = url.pathname.replace(/^\/__sim\//, "");
    if (what === "faults" && req.method === "POST") {
      try {
        const parsed = JSON.parse(raw) as Fault | Fault[];
        sim.faults.add(...(Array.isArray(parsed) ? parsed : [parsed]));
      } catch (error) {
        return { status: 400, body: { error: String(error) } };
      }
      return { status: 200, body: { pending: sim.faults.pending } };
    }
    if (what === "faults" && req.method === "DELETE") {
      sim.faults.clear();
      return { status: 200, body: { pending: 0 } };
    }
    if (what === "counters" && req.method === "GET") return { status: 200, body: counters };
    return { status: 404, body: { error: "unknown simulator control" } };
  }

  await new Promise<void>((ok) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", ok));
  const address = server.address() as AddressInfo;
  sim.url = `https://${options.host ?? "127.0.0.1"}:${address.port}`;
  for (const state of states.values()) state.auth.origin = sim.url;
  sim.close = () =>
    new Promise<void>((ok, fail) => {
      server.close((error) => (error ? fail(error) : ok()));
      server.closeAllConnections();
    });
  return sim;
}

function routeOf(method: string, s: string[]): SimRoute {
  const lower = s.map((x) => x.toLowerCase());
  if (s.length === 4 && lower[1] === "v2.0" && lower[2] === ".well-known" && lower[3] === "openid-configuration")
    return "discovery";
  if (s.length === 4 && lower[1] === "oauth2" && lower[2] === "v2.0" && lower[3] === "token" && method === "POST")
    return "token";
  if (lower[0] === "__sim") return "sim";
  if (lower[0] !== "v1.0") return "unknown";
  if (lower[1] === "users" && s.length === 2 && method === "GET") return "users";
  if (lower[1] === "users" && s.length === 3 && (lower[2] === "delta" || lower[2] === "delta()") && method === "GET")
    return "users.delta";
  if (lower[1] === "users" && s.length === 3 && method === "GET") return "user";
  if (lower[1] === "users" && s.length === 4 && lower[3] === "checkmembergroups" && method === "POST")
    return "user.checkMemberGroups";
  if (lower[1] === "subscriptions" && s.length === 2 && method === "POST") return "subscriptions";
  if (lower[1] === "subscriptions" && s.length === 3 && (method === "PATCH" || method === "DELETE"))
    return "subscription";
  if (lower[1] === "users" && s.length === 6 && lower[3] === "photos" && lower[5] === "$value" && method === "GET")
    return "user.photo";
  if (lower[1] === "groups" && s.length === 4 && lower[3] === "transitivemembers" && method === "GET")
    return "group.transitiveMembers";
  return "unknown";
}

const DEFAULT_ERRORS: Record<number, [string, string]> = {
  429: ["TooManyRequests", "Please retry again later."],
  500: ["generalException", "General exception while processing."],
  502: ["BadGateway", "Bad gateway."],
  503: ["serviceNotAvailable", "The service is temporarily unavailable. Please retry after some time."],
  504: ["GatewayTimeout", "The request timed out."],
};

function faultFailure(fault: Fault, origin: string): GraphFailure {
  switch (fault.kind) {
    case "expired-page-token":
      return new GraphFailure(
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
      );
    case "delta-gone":
      return new GraphFailure(
        410,
        "resyncRequired",
        "The delta token is no longer valid; restart synchronization from the Location header.",
        {
          Location: `${origin}/v1.0/users/delta?$deltatoken=`,
        },
      );
    case "delta-sync-state-not-found":
      return new GraphFailure(
        400,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
      );
    case "delta-resync-required":
      return new GraphFailure(
        400,
        "resyncRequired",
        "The delta token is no longer valid, and the app must reset the sync state.",
      );
    default: {
      const status = fault.status ?? 503;
      const [code, message] = DEFAULT_ERRORS[status] ?? ["UnknownError", "Simulated failure."];
      const headers: Record<string, string> =
        fault.retryAfter === undefined ? {} : { "Retry-After": String(fault.retryAfter) };
      return new GraphFailure(status, fault.code ?? code, fault.message ?? message, headers);
    }
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === "string" ? value : null;
}

function graphHeaders(req: IncomingMessage): Record<string, string> {
  return { "request-id": randomUUID(), "client-request-id": header(req, "client-request-id") ?? randomUUID() };
}

function sendGraphError(req: IncomingMessage, res: ServerResponse, failure: GraphFailure): void {
  const headers = graphHeaders(req);
  const innerError = {
    date: new Date().toISOString().replace(/\.\d+Z$/, ""),
    "request-id": headers["request-id"],
    "client-request-id": headers["client-request-id"],
  };
  const body = { error: { code: failure.code, message: failure.message, innerError } };
  sendJson(res, failure.status, body, GRAPH_CONTENT_TYPE, { ...headers, ...failure.headers });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  if (status === 204) {
    res.writeHead(204, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > 1_000_000) req.destroy(new Error("body too large"));
      else chunks.push(chunk);
    });
    req.on("end", () => ok(Buffer.concat(chunks).toString("utf8")));
    req.on("error", fail);
  });
}
