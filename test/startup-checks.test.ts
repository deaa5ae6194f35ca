import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config";
import { type Server, serve } from "../src/main";
import { type GraphSimulator, startGraphSimulator } from "../tools/graph-sim";
import { makeTestDatabase, serviceDatabaseEnv } from "./helpers/db";
import { type LogSink, logSink } from "./helpers/log-sink";
import { describeWithWordPress, type WordPressTarget } from "./helpers/wordpress";

async function until(probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !probe(); ) {
    if (Date.now() > end) throw new Error("timed out waiting for the start-up checks");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The service against the simulator and WordPress with these two credentials, logging into `log`. */
function serveWith(
  db: { url: string | null },
  sim: GraphSimulator,
  wp: WordPressTarget,
  credentials: { clientSecret: string; appPassword: string },
  log: LogSink,
  env: Record<string, string> = {},
): Promise<Server> {
  return serve(
    loadConfig({
      ...serviceDatabaseEnv(db),
      PORT: "0",
      HOST: "127.0.0.1",
      AZURE_TENANT_ID: sim.tenantId,
      AZURE_CLIENT_ID: sim.clientId,
      AZURE_CLIENT_SECRET: credentials.clientSecret,
      AZURE_AUTHORITY_HOST: sim.url,
      GRAPH_BASE_URL: sim.url,
      WP_URL: wp.url,
      WP_USERNAME: wp.username,
      WP_APP_PASSWORD: credentials.appPassword,
      ...env,
    }),
    { print: () => undefined, logDestination: log.destination },
  );
}

describeWithWordPress("start-up connection checks", (wp: WordPressTarget) => {
  it("report a wrong WordPress password and a wrong Graph secret by the setting's name, and keep serving", async () => {
    const db = await makeTestDatabase();
    const sim = await startGraphSimulator();
    const log = logSink();
    const wrongPassword = "abcd efgh ijkl mnop qrst uvwx";
    const wrongSecret = "not-the-simulator-secret-123";
    const server = await serveWith(db, sim, wp, { clientSecret: wrongSecret, appPassword: wrongPassword }, log);
    try {
      await until(
        () => /WordPress connection check failed/.test(log.text()) && /Graph connection check failed/.test(log.text()),
      );
      const text = log.text();
      expect(text).toMatch(/WordPress connection check failed[^\n]*WP_URL[^\n]*WP_USERNAME/);
      expect(text).toMatch(/Graph connection check failed[^\n]*AZURE_CLIENT_SECRET/);
      expect(text).not.toContain(wrongPassword);
      expect(text).not.toContain(wrongSecret);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      await sim.close();
      await db.close();
    }
  });

  it("say the credentials were accepted when they are right", async () => {
    const db = await makeTestDatabase();
    const sim = await startGraphSimulator();
    const log = logSink();
    // The manager's $expand is something Graph could refuse: the job's own query is tried too.
    const fields = JSON.stringify({ email: "mail", "meta.boss": "[manager.displayName]" });
    const credentials = { clientSecret: sim.clientSecret, appPassword: wp.appPassword };
    const server = await serveWith(db, sim, wp, credentials, log, { SYNC_FIELDS: fields });
    try {
      await until(() => (log.text().match(/connection checked: credentials accepted/g) ?? []).length === 2);
      expect(log.text()).not.toMatch(/connection check failed/);
      // How user writes will travel is decided and logged by the start-up check (README "Bulk writes").
      expect(log.text()).toContain('"writePath":"plugin-batch"');
      await until(() => /job \\"default\\": Graph accepts its query/.test(log.text()));
      expect(log.text()).toContain("it needs the application permissions User.Read.All (users, their manager");
    } finally {
      await server.close();
      await sim.close();
      await db.close();
    }
  });

  it("name the permission a job's custom security attributes need when Graph refuses its query", async () => {
    const db = await makeTestDatabase();
    const sim = await startGraphSimulator();
    const log = logSink();
    const fields = JSON.stringify({ email: "mail", "meta.project": "[customSecurityAttributes.Engineering.Project]" });
    const credentials = { clientSecret: sim.clientSecret, appPassword: wp.appPassword };
    const server = await serveWith(db, sim, wp, credentials, log, { SYNC_FIELDS: fields });
    try {
      await until(() => /job \\"default\\": Graph refused its query/.test(log.text()));
      expect(log.text()).toMatch(
        /job \\"default\\": Graph refused its query: [^\n]*HTTP 403 Authorization_RequestDenied[^\n]*CustomSecAttributeAssignment.Read.All \(customSecurityAttributes\)/,
      );
      expect(log.text()).not.toContain(sim.clientSecret);
    } finally {
      await server.close();
      await sim.close();
      await db.close();
    }
  });
});

describeWithWordPress(
  "start-up checks of a network target",
  (wp: WordPressTarget) => {
    it("name a site selector that matches no site of the network, and accept the ones that do", async () => {
      const db = await makeTestDatabase();
      const sim = await startGraphSimulator();
      const log = logSink();
      const jobsFile = path.join(tmpdir(), `network-jobs-${process.pid}-${Date.now()}.json`);
      const jobs = [
        { id: "typo", network: { sites: ["/", "/nosuch/"] } },
        { id: "fine", network: { sites: "all", groups: [{ group: "g", site: "/site2/", role: "editor" }] } },
      ];
      writeFileSync(jobsFile, JSON.stringify({ jobs }));
      const credentials = { clientSecret: sim.clientSecret, appPassword: wp.appPassword };
      const server = await serveWith(db, sim, wp, credentials, log, { SYNC_JOBS_FILE: jobsFile });
      try {
        await until(() => /WordPress network \(job fine\) connection checked/.test(log.text()));
        await until(() => /WordPress network \(job typo\) connection check failed/.test(log.text()));
        expect(log.text()).toContain(
          'job \\"typo\\": network names site \\"/nosuch/\\", which is not a site of the network (sites: / (id 1), /site2/',
        );
      } finally {
        await server.close();
        await sim.close();
        await db.close();
      }
    });
  },
  { prefix: "WP_NETWORK_", requiredBy: "REQUIRE_MULTISITE" },
);
