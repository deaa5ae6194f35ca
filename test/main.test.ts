import { loadConfig } from "../src/config";
import { publicUrlPortMismatch, serve } from "../src/main";
import { itWithPostgres, makeTestDatabase, serviceDatabaseEnv } from "./helpers/db";
import { makeTempDir } from "./helpers/leftovers";
import { logSink } from "./helpers/log-sink";

describe("the service process", () => {
  it("starts with an empty environment on the embedded database, prints a generated admin token once, and says what a sync still needs", async () => {
    const dataDir = makeTempDir("ews-serve-");
    const env = { DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" };
    const printed: string[] = [];
    const log = logSink();
    const first = await serve(loadConfig(env), {
      print: (line) => printed.push(line),
      logDestination: log.destination,
    });
    try {
      expect(await (await fetch(`${first.url}/healthz`)).json()).toEqual({ status: "ok" });
      expect(await (await fetch(`${first.url}/readyz`)).json()).toEqual({ status: "ready", database: "embedded" });
      // Nothing to check without Graph or WordPress settings: no alarming "check failed" lines.
      await first.runtime.checkConnections();
      expect(log.text()).not.toMatch(/connection check/);
    } finally {
      await first.close();
    }
    expect(printed.join("\n")).toMatch(/Generated ADMIN_TOKEN .*: [A-Za-z0-9_-]{40,}/);
    const token = printed.join("\n").match(/: ([A-Za-z0-9_-]{40,})/)![1]!;
    expect(log.text()).not.toContain(token);
    expect(log.text()).toContain("a real sync still needs WP_URL");
    expect(log.text()).toContain("embedded PostgreSQL");

    // The data persisted in DATA_DIR: a restart reuses the token and prints nothing.
    const again: string[] = [];
    const second = await serve(loadConfig(env), {
      print: (line) => again.push(line),
      logDestination: logSink().destination,
    });
    await second.close();
    expect(again).toEqual([]);
  });

  it("names at start-up the jobs that wait for a monitor, with the monitor's one-liner, and warns when a localhost PUBLIC_URL names another port", async () => {
    const db = await makeTestDatabase();
    await db.close();
    const log = logSink();
    const server = await serve(
      loadConfig({ ...serviceDatabaseEnv(db), PORT: "0", HOST: "127.0.0.1", PUBLIC_URL: "http://localhost:3000" }),
      { print: () => undefined, logDestination: log.destination },
    );
    const port = new URL(server.url).port;
    await server.close();
    const lines = log.lines.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 30,
        jobs: ["default"],
        msg: expect.stringMatching(
          /^job "default" \(trigger link-start-continue\): nothing advances a run until its continue link is called.*while sleep 60; do curl -fsS "\$CONTINUE_LINK"/,
        ),
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: `PUBLIC_URL (http://localhost:3000) names port 3000 on this machine, but the service listens on port ${port} (PORT): the links it mints point there. Unset PUBLIC_URL (it defaults to http://localhost:PORT) or correct it`,
      }),
    );
  });

  it("says nothing about PUBLIC_URL when it is unset, or names this port, or another host", () => {
    expect(publicUrlPortMismatch(loadConfig({ PORT: "3400" }).publicUrl, "3400")).toBeNull();
    expect(publicUrlPortMismatch("http://127.0.0.1:3400", "3400")).toBeNull();
    expect(publicUrlPortMismatch("https://sync.example.org", "3400")).toBeNull();
    expect(publicUrlPortMismatch("http://localhost", "3400")).toMatch(/names port 80 on this machine/);
  });

  itWithPostgres("uses the PostgreSQL server named by DATABASE_URL", async () => {
    const db = await makeTestDatabase();
    await db.close();
    const server = await serve(loadConfig({ DATABASE_URL: db.url!, PORT: "0", HOST: "127.0.0.1" }), {
      print: () => undefined,
      logDestination: logSink().destination,
    });
    try {
      expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: "ready", database: "postgres" });
    } finally {
      await server.close();
    }
  });
});
