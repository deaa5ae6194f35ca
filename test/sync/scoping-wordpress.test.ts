/**
 * Scoping filters end to end: the service (jobs file, signed links) against the Graph simulator
 * and the REAL WordPress. Narrowing a job's scoping filters deactivates exactly the users who left
 * scope, and a change that would remove more than the safety limits stops for approval instead.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config";
import type { ScopingClause } from "../../src/core/job";
import { type Server, serve } from "../../src/main";
import { type GraphSimulator, makeTenant, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { logSink } from "../helpers/log-sink";
import {
  callLink,
  deleteWordPressUsersOf,
  driveToEnd,
  linkToken,
  serviceEnv,
  uniqueDomain,
  wordpressUsersOf,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

type Filters = Array<Array<Omit<ScopingClause, "value"> & { value?: string }>>;

describeWithWordPress("scoping filters against the real WordPress", (wp) => {
  const domain = uniqueDomain("scoping");
  const jobsFile = path.join(tmpdir(), `scoping-jobs-${process.pid}-${Date.now()}.json`);
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let server: Server | null = null;
  const people = new Map<string, SimUser>();

  beforeAll(async () => {
    db = await makeTestDatabase();
    const tenant = makeTenant({ users: 0, seed: 18, domain });
    const add = (name: string, department: string, jobTitle: string) => {
      const mail = `${name}@${domain}`;
      people.set(name, tenant.addUser({ mail, userPrincipalName: mail, givenName: name, department, jobTitle }));
    };
    add("sam", "Sales", "Lead");
    add("sue", "Sales", "Rep");
    add("sid", "Sales", "Rep");
    add("sal", "Sales", "Rep");
    add("fay", "Finance", "Accountant");
    add("fin", "Finance", "Controller");
    sim = await startGraphSimulator({ tenant });
  });
  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  /** (Re)starts the service with the job's scoping filters, as an operator editing the jobs file would. */
  async function serveWith(scopingFilters: Filters): Promise<Server> {
    await server?.close();
    const job = {
      id: "default",
      trigger: { mode: "link-start-continue" },
      source: { pageSize: 100, scopingFilters },
      actions: { missing: "deactivate" },
      safety: { maxDeleteFraction: 0.5, maxDeleteCount: 100 },
    };
    writeFileSync(jobsFile, JSON.stringify({ jobs: [job] }));
    const env = serviceEnv({ databaseUrl: db.url!, sim, wp, extra: { SYNC_JOBS_FILE: jobsFile } });
    // The job is declared in the file, so the SYNC_* variables of the default job stay unset.
    for (const name of Object.keys(env)) if (name.startsWith("SYNC_") && name !== "SYNC_JOBS_FILE") delete env[name];
    server = await serve(loadConfig(env), { print: () => undefined, logDestination: logSink().destination });
    return server;
  }

  async function runOnce(service: Server) {
    await callLink(service.url, "start", await linkToken(service.runtime, "start"));
    return (await driveToEnd(service.url, await linkToken(service.runtime, "continue"))).body.run;
  }

  /** name -> WordPress roles of the test's users. */
  async function rolesByName(): Promise<Record<string, string[]>> {
    const users = await wordpressUsersOf(wp, domain);
    return Object.fromEntries(users.map((u) => [u.email.split("@")[0]!, u.roles]));
  }

  itWithPostgres(
    "deactivates exactly the users a narrower filter leaves out, and stops for approval over the safety limits",
    async () => {
      const salesOrFinance: Filters = [
        [{ attribute: "department", operator: "EQUALS", value: "Sales" }],
        [{ attribute: "department", operator: "EQUALS", value: "Finance" }],
      ];
      const first = await runOnce(await serveWith(salesOrFinance));
      expect(first).toMatchObject({ state: "completed", counts: { created: 6, deactivated: 0 } });

      // Finance leaves scope: 2 of 6 mapped users, under maxDeleteFraction 0.5.
      const salesOnly: Filters = [[{ attribute: "department", operator: "EQUALS", value: "Sales" }]];
      const second = await runOnce(await serveWith(salesOnly));
      expect(second).toMatchObject({ state: "completed", counts: { unchanged: 4, deactivated: 2 } });
      expect(await rolesByName()).toEqual({
        sam: ["subscriber"],
        sue: ["subscriber"],
        sid: ["subscriber"],
        sal: ["subscriber"],
        fay: [],
        fin: [],
      });

      // Only the Sales lead: 3 of the 4 active users would go, over the limit: nothing is removed.
      const leadsOnly: Filters = [
        [
          { attribute: "department", operator: "EQUALS", value: "Sales" },
          { attribute: "jobTitle", operator: "EQUALS", value: "Lead" },
        ],
      ];
      const third = await runOnce(await serveWith(leadsOnly));
      expect(third).toMatchObject({ state: "awaiting_approval", counts: { deactivated: 0 } });
      expect((await rolesByName())["sue"]).toEqual(["subscriber"]);
      expect(people.size).toBe(6);
    },
  );
});
