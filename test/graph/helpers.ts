/** Shared set-up for Graph tests: the real credential and client classes against the simulator. */

import pino, { type Logger } from "pino";
import type { GraphDirectory, GraphDirectoryOptions } from "../../src/graph";
import { makeGraphDirectory } from "../../src/graph";
import type { Budget, Directory, UsersQuery } from "../../src/sync/ports";
import {
  type GraphSimulator,
  type GraphSimulatorOptions,
  type SimulatedTenant,
  startGraphSimulator,
} from "../../tools/graph-sim";
import { logSink } from "../helpers/log-sink";

export async function withSimulator(options: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  return startGraphSimulator(options);
}

/** A logger that keeps every line, so tests can assert what is (not) logged. */
export function makeCapturingLogger(): { logger: Logger; lines: string[] } {
  const sink = logSink();
  return { logger: pino({ level: "debug" }, sink.destination), lines: sink.lines };
}

/** An access token from the simulator by the client-credentials grant, for raw Graph calls. */
export async function bearer(sim: GraphSimulator, tenant: SimulatedTenant = sim): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: tenant.clientId,
    client_secret: tenant.clientSecret,
    scope: "https://graph.microsoft.com/.default",
  });
  const reply = await fetch(`${sim.url}/${tenant.tenantId}/oauth2/v2.0/token`, { method: "POST", body: form });
  return ((await reply.json()) as { access_token: string }).access_token;
}

/** The real Graph directory reading one tenant of the simulator (its first by default). */
export function directoryFor(
  sim: GraphSimulator,
  overrides: Partial<GraphDirectoryOptions> = {},
  tenant: SimulatedTenant = sim,
): GraphDirectory {
  return makeGraphDirectory({
    tenantId: tenant.tenantId,
    clientId: tenant.clientId,
    clientSecret: tenant.clientSecret,
    authorityHost: sim.url,
    graphBaseUrl: sim.url,
    logger: pino({ level: "silent" }),
    maxRetries: 3,
    retryBaseDelayMs: 5,
    ...overrides,
  });
}

export function budget(ms = 20_000): Budget {
  return { deadline: Date.now() + ms };
}

export const SELECT = ["id", "userPrincipalName", "mail", "displayName", "accountEnabled", "userType", "department"];

export function fullQuery(overrides: Partial<UsersQuery> = {}): UsersQuery {
  return { mode: "full", filter: null, pageSize: 999, select: SELECT, ...overrides };
}

export function deltaQuery(overrides: Partial<UsersQuery> = {}): UsersQuery {
  return { mode: "delta", filter: null, pageSize: 999, select: SELECT, ...overrides };
}

/** Follows nextLinks to the end; returns everything plus the number of pages. */
export async function listAll(directory: Directory, query: UsersQuery, start: string | null = null) {
  const users: Array<Record<string, unknown>> = [];
  const removed: string[] = [];
  let cursor = start;
  let pages = 0;
  let deltaLink: string | null = null;
  let totalCount: number | null = null;
  do {
    const page = await directory.fetchUsersPage(query, cursor, budget());
    if (pages === 0) totalCount = page.totalCount;
    pages++;
    users.push(...page.users);
    removed.push(...page.removed);
    cursor = page.nextLink;
    deltaLink = page.deltaLink;
  } while (cursor);
  return { users, removed, pages, deltaLink, totalCount };
}
