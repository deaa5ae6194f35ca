/**
 * Rows "SCIM": a provider pushing users into a real WordPress through a SCIM job (DESIGN.md "SCIM
 * source"), over HTTP to the service listening in this process, as Microsoft Entra's provisioning
 * service does it: an initial cycle of `users` users, 8 requests at a time, each a query by
 * userName and then a create; then `writes` single writes one at a time (a PATCH of the display
 * name). Once with the companion plugin, once on the same WordPress without it (one REST request
 * per write), and next to the Graph pull path (a first sync of as many users through the engine)
 * on the plugin's WordPress, for the ratio.
 *
 * A write's latency runs from sending it until WordPress holds it: its answer when the change was
 * applied before the answer (the endpoint waits up to 5 s for that), else the moment its pending
 * change was done (polled in the database every 10 ms).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULTS } from "../../src/config";
import { secretDigest } from "../../src/core/hash";
import { insertToken, isPending } from "../../src/db/scim";
import { buildApp } from "../../src/http/app";
import { makeScimToken } from "../../src/http/routes/scim-tokens";
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { cpuWindow, type OutsideLoad } from "../lib/load";
import { driveRun, openBenchService } from "../lib/service";
import { type BenchWordPress, makeCountingSite, startBenchWordPress } from "../lib/wordpress";

/** What Entra keeps in flight against one endpoint (its exact number is not published; 8 is the bench's). */
export const PROVIDER_CONCURRENCY = 8;
const JOB = "scim";
const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/** A SCIM job never reads Graph; these only fill the settings a runtime is opened with. */
const NO_GRAPH = { url: "https://127.0.0.1:9", tenantId: "bench", clientId: "bench", clientSecret: "bench" };

export interface ScimCycle {
  wallMs: number;
  /** Each create's latency (send -> WordPress holds it), in the order they finished. */
  createMs: number[];
  /** Writes answered before WordPress held them (the endpoint's 5 s wait ran out). */
  answeredEarly: number;
  /** WordPress requests by method ("POST batch": the plugin's batch endpoint). */
  wpRequests: Record<string, number>;
  /** Runs (trigger scim) that applied the cycle's writes: concurrent writes share a run. */
  runs: number;
  load: OutsideLoad;
}

export interface ScimPath {
  cycle: ScimCycle;
  /** Single writes one at a time (PATCH displayName), send -> WordPress holds it. */
  writeMs: number[];
  writeLoad: OutsideLoad;
}

export interface ScimResult {
  users: number;
  plugin: ScimPath;
  withoutPlugin: ScimPath;
  /** The Graph pull path: a first sync of as many users through the engine, with the plugin. */
  graph: { wallMs: number; load: OutsideLoad };
}

export async function benchScim(
  wp: BenchWordPress,
  users: number,
  writes: number,
  log: (line: string) => void,
): Promise<ScimResult> {
  log(`scim: with the plugin (${wp.url}): a cycle of ${users} users at ${PROVIDER_CONCURRENCY}, then ${writes} writes`);
  const plugin = await scimPath("scim_plugin", wp, users, writes);
  log(`scim: the Graph pull path, a first sync of ${users} users`);
  const graph = await graphPull(wp, users);
  const plain = startBenchWordPress({ reset: true, withoutPlugin: true });
  log(`scim: without the plugin (${plain.url}): the same cycle and writes`);
  const withoutPlugin = await scimPath("scim_plain", plain, users, writes);
  return { users, plugin, withoutPlugin, graph };
}

async function scimPath(name: string, wp: BenchWordPress, users: number, writes: number): Promise<ScimPath> {
  const service = await openScimService(name, wp);
  try {
    const domain = `scim-${randomBytes(4).toString("hex")}.example`;
    const people = Array.from({ length: users }, (_, i) => aUser(domain, i));
    const createMs: number[] = [];
    let answeredEarly = 0;
    const ids: string[] = new Array(users);
    service.counting.reset();
    const window = cpuWindow();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: PROVIDER_CONCURRENCY }, async () => {
        while (next < users) {
          const i = next++;
          const person = people[i]!;
          const found = await service.call(
            "GET",
            `/Users?filter=${encodeURIComponent(`userName eq "${person.userName}"`)}`,
          );
          if ((found as { totalResults: number }).totalResults !== 0)
            throw new Error(`${person.userName} exists already`);
          const write = await service.timedWrite("POST", "/Users", person, person.externalId);
          ids[i] = write.id;
          createMs.push(write.ms);
          if (write.early) answeredEarly++;
        }
      }),
    );
    const wallMs = performance.now() - started;
    const load = window.take();
    const wpRequests = { ...service.counting.requests };
    const runs = await service.runs();
    const writeMs: number[] = [];
    const writeWindow = cpuWindow();
    for (let i = 0; i < Math.min(writes, users); i++) {
      const body = {
        schemas: [PATCH_SCHEMA],
        Operations: [{ op: "replace", path: "displayName", value: `Renamed ${i}` }],
      };
      writeMs.push((await service.timedWrite("PATCH", `/Users/${ids[i]}`, body, people[i]!.externalId)).ms);
    }
    return {
      cycle: { wallMs, createMs, answeredEarly, wpRequests, runs, load },
      writeMs,
      writeLoad: writeWindow.take(),
    };
  } finally {
    await service.close();
  }
}

function aUser(domain: string, i: number) {
  const login = `scim${i}@${domain}`;
  return {
    schemas: [USER_SCHEMA],
    externalId: randomUUID(),
    userName: login,
    active: true,
    displayName: `Scim User ${i}`,
    name: { givenName: "Scim", familyName: `User${i}` },
    emails: [{ primary: true, type: "work", value: login }],
  };
}

/** The service with one SCIM job, listening on a loopback port, and a token for it. */
async function openScimService(name: string, wp: BenchWordPress) {
  const dir = resolve(".tmp/bench");
  mkdirSync(dir, { recursive: true });
  const jobsFile = join(dir, `${name}-jobs.json`);
  writeFileSync(jobsFile, JSON.stringify({ jobs: [{ id: JOB, source: { kind: "scim" } }] }));
  const counting = makeCountingSite(wp, DEFAULTS.WP_CONCURRENCY);
  const runtime = await openBenchService({
    name,
    sim: NO_GRAPH,
    site: counting.site,
    env: { SYNC_JOBS_FILE: jobsFile, PUBLIC_URL: "https://sync.bench.test" },
  });
  const app = await buildApp(runtime);
  const base = `${await app.listen({ port: 0, host: "127.0.0.1" })}/scim/v2/${JOB}`;
  runtime.startBackground();
  const token = makeScimToken();
  await insertToken(runtime.db.pool, JOB, secretDigest(token));
  const call = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    counting,
    call,
    /** A write, timed until WordPress holds it (the user's key is its externalId). */
    async timedWrite(method: string, route: string, body: unknown, key: string) {
      const started = performance.now();
      const answer = (await call(method, route, body)) as { id: string };
      let ms = performance.now() - started;
      const early = await isPending(runtime.db.pool, JOB, key);
      if (early) {
        while (await isPending(runtime.db.pool, JOB, key)) await new Promise((r) => setTimeout(r, 10));
        ms = performance.now() - started;
      }
      return { id: answer.id, ms, early };
    },
    async runs(): Promise<number> {
      const { rows } = await runtime.db.pool.query<{ n: number }>(
        "select count(*)::int as n from runs where job_id = $1::text and trigger = 'scim'",
        [JOB],
      );
      return rows[0]!.n;
    },
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}

async function graphPull(wp: BenchWordPress, users: number): Promise<ScimResult["graph"]> {
  const sim = await startGraphSimulator({
    tenant: makeTenant({ users, seed: 17, domain: `scim-ratio-${randomBytes(4).toString("hex")}.example` }),
  });
  const runtime = await openBenchService({
    name: "scim_graph_pull",
    sim,
    site: makeCountingSite(wp, DEFAULTS.WP_CONCURRENCY).site,
  });
  try {
    const window = cpuWindow();
    const { run, wallMs } = await driveRun(runtime);
    if (run.counts.created !== users) throw new Error(`the Graph pull created ${run.counts.created} of ${users}`);
    return { wallMs, load: window.take() };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
