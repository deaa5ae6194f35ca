/**
 * Start-up failures an operator fixes with a setting are one line on stderr and exit 78 (EX_CONFIG,
 * so a supervisor does not restart-loop), never a stack trace with exit 1: the port taken, a
 * DATABASE_URL whose server is not PostgreSQL, the database connection lost during start-up.
 * The real CLI (`serve`) in a child process, as a supervisor starts it.
 */
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { itWithPostgres, makeTestDatabase, serviceDatabaseEnv } from "../helpers/db";
import { makeTempDir } from "../helpers/leftovers";
import { startCli } from "../replicas/setup";

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function listenOnFreePort(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

/**
 * Starts `serve` and waits for it to exit; returns the exit code and stderr's lines. A DATA_DIR of
 * its own: a start that reaches the admin token (the port-in-use case) writes the generated
 * token's file there, never into the checkout's ./data.
 */
async function serveExit(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const cli = startCli(["serve"], {
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "warn",
    DATA_DIR: makeTempDir("ews-serve-"),
    ...env,
  });
  const code = await cli.exited;
  return { code, lines: cli.stderr().trim().split("\n") };
}

/**
 * A TCP proxy to PostgreSQL that hangs up every connection at the second query it is sent (the
 * service's connection check is the first): the server lost in the middle of the migrations.
 * It reads the frontend's message framing (a startup message without a type byte, then a type
 * byte and a length per message) to know where each query starts.
 */
function dropAfterFirstQuery(target: URL): net.Server {
  let queries = 0;
  return net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    const hangUp = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", hangUp);
    upstream.on("error", hangUp);
    upstream.on("data", (chunk) => client.write(chunk));
    let pending = Buffer.alloc(0);
    let started = false;
    client.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const header = started ? 5 : 4;
        if (pending.length < header) return;
        const length = started ? 1 + pending.readInt32BE(1) : pending.readInt32BE(0);
        if (pending.length < length) return;
        const type = started ? String.fromCharCode(pending[0]!) : "startup";
        if ((type === "Q" || type === "P") && ++queries > 1) return hangUp();
        upstream.write(pending.subarray(0, length));
        pending = pending.subarray(length);
        started = true;
      }
    });
  });
}

describe("serve's start-up failures", () => {
  it("a port in use: one line naming PORT and HOST, exit 78", async () => {
    const port = await listenOnFreePort(net.createServer());
    const db = await makeTestDatabase();
    await db.close();
    const { code, lines } = await serveExit({ ...serviceDatabaseEnv(db), PORT: String(port) });
    expect({ code, lines }).toEqual({
      code: 78,
      lines: [
        `Configuration error: PORT ${port} on HOST 127.0.0.1 is already in use by another process: stop it, or set PORT (or HOST) to a free one`,
      ],
    });
  });

  it("a DATABASE_URL naming an HTTP server: one line saying it is not PostgreSQL, exit 78", async () => {
    const port = await listenOnFreePort(http.createServer((_, response) => response.end("hello")));
    const { code, lines } = await serveExit({ DATABASE_URL: `postgres://sync:secret-password@127.0.0.1:${port}/sync` });
    expect(code).toBe(78);
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Configuration error: DATABASE_URL \\(server 127.0.0.1:${port}, database "sync"\\): the server there is not PostgreSQL`,
        ),
      ),
    ]);
    expect(lines[0]).not.toContain("secret-password");
  });

  // MariaDB is on this machine wherever the WordPress tests run (scripts/wordpress-local.sh).
  (process.env.WP_URL ? it : it.skip)(
    "a DATABASE_URL naming MariaDB's port: one line saying it is not PostgreSQL, exit 78",
    async () => {
      const { code, lines } = await serveExit({ DATABASE_URL: "postgres://root@127.0.0.1:3306/wordpress" });
      expect({ code, lines }).toEqual({
        code: 78,
        lines: [
          expect.stringMatching(
            /^Configuration error: DATABASE_URL \(server 127.0.0.1:3306, database "wordpress"\): the server there is not PostgreSQL/,
          ),
        ],
      });
    },
  );

  itWithPostgres("the database connection lost during start-up: one line naming the server, exit 78", async () => {
    const db = await makeTestDatabase();
    await db.close();
    const target = new URL(db.url!);
    const port = await listenOnFreePort(dropAfterFirstQuery(target));
    const proxied = new URL(db.url!);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(port);
    const { code, lines } = await serveExit({ DATABASE_URL: proxied.toString() });
    expect({ code, lines }).toEqual({
      code: 78,
      lines: [
        expect.stringMatching(
          new RegExp(
            `^Configuration error: DATABASE_URL \\(server 127.0.0.1:${port}, database "${target.pathname.slice(1)}"\\): the connection was lost during start-up \\(Connection terminated unexpectedly\\); check that the server is up`,
          ),
        ),
      ],
    });
  });

  it("a site of the jobs file whose password variable is not set: one line naming the site and the variable, exit 78", async () => {
    const dir = makeTempDir("ews-serve-jobs-");
    const file = path.join(dir, "jobs.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        sites: {
          intranet: { url: "https://intranet.example", username: "sync", appPasswordEnv: "INTRANET_WP_APP_PASSWORD" },
        },
        jobs: [{ id: "staff", site: "intranet" }],
      }),
    );
    const { code, lines } = await serveExit({ SYNC_JOBS_FILE: file });
    expect({ code, lines }).toEqual({
      code: 78,
      lines: [
        `Configuration error: SYNC_JOBS_FILE (${file}): site "intranet": appPasswordEnv names INTRANET_WP_APP_PASSWORD, which is not set (or is empty)`,
      ],
    });
  });
});
