/** Shared set-up for Graph tests: the real credential and client classes against the simulator. */

import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import type { GraphDirectoryOptions } from "../../src/graph";
import { makeGraphDirectory } from "../../src/graph";
import type { Budget, Directory, UsersQuery } from "../../src/sync/ports";
import { type GraphSimulator, type GraphSimulatorOptions, startGraphSimulator } from "../../tools/graph-sim";

export async function withSimulator(options: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  return startGraphSimulator(options);
}

/** A logger that keeps every line, so tests can assert what is (not) logged. */
export function makeCapturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: "debug" }, sink), lines };
}

export function directoryFor(sim: GraphSimulator, overrides: Partial<GraphDirectoryOptions> = {}): Directory {
  return makeGraphDirectory({
    tenantId: sim.tenantId,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
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
