/**
 * One deployment, two real WordPress sites (one with the companion plugin, one without) and two
 * Entra tenants with their own app registrations (one simulator serving both, as Graph does):
 * each job writes its own tenant's users into its own site; a site that goes away fails only its
 * own jobs (the other site's runs complete and its monitor stays green while the stopped site's
 * turns red); a tenant whose credentials are withdrawn fails only its own jobs; and no entry's
 * secret shows in the logs, an error body, the admin API or a dump of the database.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../../src/config";
import { type Server, serve } from "../../src/main";
import { type GraphSimulator, makeTenant, type SimulatedTenant, startGraphSimulator } from "../../tools/graph-sim";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { makeTempDir } from "../helpers/leftovers";
import { type LogSink, logSink } from "../helpers/log-sink";
import {
  deleteWordPressUsersOf,
  hostPort,
  linkToken,
  RELIABILITY_ADMIN_TOKEN,
  RELIABILITY_KEYS,
  startTcpProxy,
  type TcpProxy,
  testSeed,
  throughProxy,
  uniqueDomain,
  wordpressUsersOf,
} from "../helpers/reliability";
import { poll } from "../helpers/sandbox";
import { describeWithWordPress, type WordPressTarget } from "../helpers/wordpress";

const CORP_USERS = 12;
const PARTNER_USERS = 8;
const JOBS = ["staff", "partners", "shop-staff"] as const;
type JobId = (typeof JOBS)[number];

describeWithWordPress("one deployment, two WordPress sites and two tenants", (intranetWp) => {
  describeWithWordPress(
    "one deployment, two WordPress sites and two tenants (the second site)",
    (shopWp) => deployment(intranetWp, shopWp),
    {
      prefix: "WP_PLAIN_",
      howToStart:
        'eval "$(bash scripts/wordpress-local.sh --without-plugin --port 8882 --dir /tmp/entra-wp-sync-wordpress-plain --env-prefix WP_PLAIN_)"',
    },
  );
});

function deployment(intranetWp: WordPressTarget, shopWp: WordPressTarget): void {
  const seed = testSeed("sites and sources");
  const corpDomain = uniqueDomain("corp");
  const partnerDomain = uniqueDomain("partner");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let partner: SimulatedTenant;
  let partnerSecret: string;
  let shopProxy: TcpProxy;
  let server: Server;
  let logs: LogSink;
  const bodies: string[] = [];

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({ tenant: makeTenant({ users: CORP_USERS, seed, domain: corpDomain }) });
    partner = sim.addTenant({ tenant: makeTenant({ users: PARTNER_USERS, seed: seed + 1, domain: partnerDomain }) });
    partnerSecret = partner.clientSecret;
    shopProxy = await startTcpProxy(hostPort(shopWp.url));
    const dir = makeTempDir("ews-sites-e2e-");
    writeFileSync(path.join(dir, "shop-password"), `${shopWp.appPassword}\n`);
    writeFileSync(path.join(dir, "partner-secret"), partnerSecret);
    const job = (id: JobId, site: string, tenant: string) => ({
      id,
      site,
      source: { tenant, pageSize: 5 },
      // Other test files share these WordPress sites: never remove anyone.
      actions: { missing: "none" },
    });
    const jobsFile = path.join(dir, "jobs.json");
    writeFileSync(
      jobsFile,
      JSON.stringify({
        sites: {
          intranet: { url: intranetWp.url, username: intranetWp.username, appPasswordEnv: "INTRANET_WP_PASSWORD" },
          shop: {
            url: throughProxy(shopWp.url, shopProxy),
            username: shopWp.username,
            appPasswordFile: "shop-password",
          },
        },
        sources: {
          corp: { tenantId: sim.tenantId, clientId: sim.clientId, clientSecretEnv: "CORP_AZURE_CLIENT_SECRET" },
          partner: { tenantId: partner.tenantId, clientId: partner.clientId, clientSecretFile: "partner-secret" },
        },
        jobs: [job("staff", "intranet", "corp"), job("partners", "shop", "partner"), job("shop-staff", "shop", "corp")],
      }),
    );
    logs = logSink();
    const env = {
      DATABASE_URL: db.url!,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "debug",
      ADMIN_TOKEN: RELIABILITY_ADMIN_TOKEN,
      LINK_SIGNING_KEYS: RELIABILITY_KEYS.map((k) => `${k.kid}:${k.secret}`).join(","),
      STEP_BUDGET_MS: "10000",
      MAX_FAILED_STEPS: "2",
      SYNC_JOBS_FILE: jobsFile,
      INTRANET_WP_PASSWORD: intranetWp.appPassword,
      CORP_AZURE_CLIENT_SECRET: sim.clientSecret,
      // Where both tenants' authority and Graph are (no WP_* and AZURE_TENANT_ID: no job uses "default").
      AZURE_AUTHORITY_HOST: sim.url,
      GRAPH_BASE_URL: sim.url,
    };
    server = await serve(loadConfig(env), { print: () => undefined, logDestination: logs.destination });
  }, 60_000);

  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await shopProxy?.close();
    await sim?.close();
    for (const [wp, domain] of [
      [intranetWp, corpDomain],
      [shopWp, corpDomain],
      [shopWp, partnerDomain],
    ] as const) {
      await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    }
    await db?.close();
  });

  /** A call as a monitor or an operator makes it; every body is kept for the secrets check. */
  async function call(method: string, route: string, token = RELIABILITY_ADMIN_TOKEN) {
    const res = await fetch(`${server.url}${route}`, { method, headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text, body: text.startsWith("{") ? JSON.parse(text) : null };
  }
  const link = async (job: JobId, act: "start" | "continue") =>
    call("POST", `/v1/jobs/${job}/${act}`, await linkToken(server.runtime, act, job));

  /** Starts a run of the job and calls its continue link until the run settles; the last answer. */
  async function runToEnd(job: JobId) {
    expect((await link(job, "start")).status).toBe(200);
    for (let i = 0; i < 50; i++) {
      const answer = await link(job, "continue");
      const state = answer.body?.run?.state;
      if (answer.status !== 200 || ["completed", "failed"].includes(state)) return answer;
    }
    throw new Error(`job ${job}: the run did not settle`);
  }
  /** Every job's run at once, each driven by its own monitor. */
  async function runAll(): Promise<Record<JobId, Awaited<ReturnType<typeof runToEnd>>>> {
    const answers = await Promise.all(JOBS.map(runToEnd));
    return Object.fromEntries(JOBS.map((job, index) => [job, answers[index]!])) as Record<
      JobId,
      Awaited<ReturnType<typeof runToEnd>>
    >;
  }
  const lastRun = async (job: JobId) => (await call("GET", `/v1/jobs/${job}/runs?limit=1`)).body.runs[0];

  itWithPostgres("checks each site and each source at start-up, naming them", async () => {
    const checked = [
      'WordPress site "intranet" connection checked: credentials accepted',
      'WordPress site "shop" connection checked: credentials accepted',
      'Microsoft Graph source "corp" connection checked: credentials accepted',
      'Microsoft Graph source "partner" connection checked: credentials accepted',
    ];
    const messages = () => logs.lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    await poll("the start-up checks", 30_000, () =>
      checked.every((line) => messages().includes(line)) ? true : undefined,
    );
    // No job uses the environment's site or source, so nothing asks for WP_* or AZURE_* settings.
    expect(logs.text()).not.toContain("a real sync still needs");
    const jobs = (await call("GET", "/v1/jobs")).body.jobs as Array<{
      id: string;
      site: string;
      source: { tenant: string };
    }>;
    expect(jobs.map((job) => [job.id, job.site, job.source.tenant])).toEqual([
      ["staff", "intranet", "corp"],
      ["partners", "shop", "partner"],
      ["shop-staff", "shop", "corp"],
    ]);
  });

  itWithPostgres(
    "writes each job's tenant into its own site, the plugin's write path on one and core's on the other",
    async () => {
      const answers = await runAll();
      for (const job of JOBS) expect(answers[job].body.run.state).toBe("completed");
      const emails = async (wp: WordPressTarget, domain: string) =>
        (await wordpressUsersOf(wp, domain)).map((user) => user.email.toLowerCase()).sort();
      const corp = [...sim.tenant.users()].map((user) => user.mail!.toLowerCase()).sort();
      const partners = [...partner.tenant.users()].map((user) => user.mail!.toLowerCase()).sort();
      expect(await emails(intranetWp, corpDomain)).toEqual(corp);
      expect(await emails(intranetWp, partnerDomain)).toEqual([]);
      expect(await emails(shopWp, corpDomain)).toEqual(corp);
      expect(await emails(shopWp, partnerDomain)).toEqual(partners);
      // Plugin detection is the site's own: batched through the plugin on one, not on the other.
      const writePaths = logs.lines
        .filter((line) => line.includes("wordpress writes go"))
        .map((line) => JSON.parse(line) as { site: string; msg: string });
      expect(writePaths.find((line) => line.site === "intranet")?.msg).toMatch(/companion plugin's batch endpoint/);
      expect(writePaths.find((line) => line.site === "shop")?.msg).not.toMatch(/companion plugin's batch endpoint/);
    },
    120_000,
  );

  itWithPostgres(
    "fails only the stopped site's jobs: the other site's run completes and its monitor stays green while the stopped site's turns red",
    async () => {
      // A change in each tenant, so that every run has something to write (unchanged users cost no request).
      for (const tenant of [sim, partner]) {
        const [first] = tenant.tenant.users();
        tenant.tenant.updateUser(first!.id, { displayName: `Renamed ${seed}` });
      }
      shopProxy.cut();
      try {
        const { staff } = await runAll();
        expect(staff.body.run).toMatchObject({ state: "completed", counts: { seen: CORP_USERS, failed: 0 } });
        expect((await link("staff", "continue")).status).toBe(200);
        for (const job of ["partners", "shop-staff"] as const) {
          expect((await link(job, "continue")).status).toBe(503);
          const run = await lastRun(job);
          expect(run.state).toBe("failed");
          expect(run.lastError).toMatch(/at sites\.shop\.url=http:\/\/127\.0\.0\.1:\d+ failed after/);
        }
      } finally {
        shopProxy.restore();
      }
    },
    120_000,
  );

  itWithPostgres("fails only the jobs of the tenant whose credentials were withdrawn, naming its source", async () => {
    partner.revokeCredentials();
    const answers = await runAll();
    expect(answers.staff.body.run.state).toBe("completed");
    expect(answers["shop-staff"].body.run.state).toBe("completed");
    expect((await link("partners", "continue")).status).toBe(503);
    expect((await link("shop-staff", "continue")).status).toBe(200);
    const failed = await lastRun("partners");
    expect(failed.state).toBe("failed");
    expect(failed.lastError).toMatch(
      /Could not get a Graph access token \(sources\.partner\.clientId=[^,]+, sources\.partner\.tenantId=[^)]+\): the client secret was rejected: check the file .*partner-secret \(sources\.partner\.clientSecretFile\)/,
    );
    expect((await call("GET", `/v1/runs/${failed.id}`)).status).toBe(200);
  });

  itWithPostgres("keeps every entry's secret out of the logs, the answers and the database", async () => {
    for (const route of ["/v1/jobs", "/v1/jobs/partners", "/status", "/metrics"]) await call("GET", route);
    const dump = execFileSync("pg_dump", ["--data-only", db.url!], { maxBuffer: 64 * 1024 * 1024 }).toString();
    const basic = (wp: WordPressTarget) => Buffer.from(`${wp.username}:${wp.appPassword}`).toString("base64");
    const secrets = {
      "intranet's Application Password": intranetWp.appPassword,
      "shop's Application Password": shopWp.appPassword,
      "intranet's basic credentials": basic(intranetWp),
      "shop's basic credentials": basic(shopWp),
      "corp's client secret": sim.clientSecret,
      "partner's client secret": partnerSecret,
    };
    expect(dump).toContain("sites.shop.url"); // the dump holds the runs' errors: it is the real thing
    for (const [name, value] of Object.entries(secrets)) {
      expect({ name, inLogs: logs.text().includes(value) }).toEqual({ name, inLogs: false });
      expect({ name, inAnswers: bodies.some((body) => body.includes(value)) }).toEqual({ name, inAnswers: false });
      expect({ name, inDatabase: dump.includes(value) }).toEqual({ name, inDatabase: false });
    }
  });
}
