/**
 * A DATABASE_URL that does not lead to a usable database stops `serve` and every CLI command at
 * start-up with one line naming the server and the database (never the password) and the
 * configuration exit code 78, not a stack trace and exit 1.
 */
import net from "node:net";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { startCli } from "../replicas/setup";

const PASSWORD = "pw-that-must-not-show-7f3a";

/**
 * A server that answers every connection as PostgreSQL does for a wrong password: an
 * ErrorResponse with SQLSTATE 28P01 (the local test server trusts every connection, so it cannot
 * refuse one). Protocol: https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
async function refusingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.once("data", () => {
      const fields = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed for user "sync"\0\0');
      const header = Buffer.alloc(5);
      header.write("E", 0);
      header.writeInt32BE(4 + fields.length, 1);
      socket.end(Buffer.concat([header, fields]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function startWith(databaseUrl: string, command: string[]) {
  const running = startCli(command, { DATABASE_URL: databaseUrl, PORT: "0", HOST: "127.0.0.1" });
  const code = await running.exited;
  return { code, stderr: running.stderr(), stdout: running.stdout() };
}

async function serverUrl(): Promise<URL> {
  const db = await makeTestDatabase();
  await db.close();
  return new URL(db.url!);
}

describe("database errors at start-up", () => {
  let refusing: Awaited<ReturnType<typeof refusingServer>>;
  beforeAll(async () => {
    refusing = await refusingServer();
  });
  afterAll(() => refusing?.close());

  it.each([
    ["serve", ["serve"]],
    ["status", ["status"]],
    ["migrate", ["migrate"]],
  ])("%s on a server that is not running: one line naming host, port and database, exit 78", async (_, command) => {
    const { code, stderr, stdout } = await startWith(`postgres://sync:${PASSWORD}@127.0.0.1:1/entra_wp_sync`, command);
    expect(code).toBe(78);
    expect(stderr).toBe(
      'Configuration error: DATABASE_URL (server 127.0.0.1:1, database "entra_wp_sync"): no PostgreSQL server accepts connections there (connection refused); start it, or correct the host and port\n',
    );
    expect(stdout).toBe("");
  });

  // Only a server can lack a database: the embedded one has no such failure.
  itWithPostgres("names a database that does not exist and says to create it first", async () => {
    const url = await serverUrl();
    url.pathname = "/ews_no_such_database";
    url.password = PASSWORD;
    const { code, stderr } = await startWith(url.toString(), ["serve"]);
    expect(code).toBe(78);
    expect(stderr).toMatch(
      new RegExp(
        `^Configuration error: DATABASE_URL \\(server ${url.hostname}:${url.port || 5432}, database "ews_no_such_database"\\): the database does not exist; create it first.*\\n$`,
      ),
    );
    expect(stderr).not.toContain(PASSWORD);
  });

  it("says the credentials were refused, without the password", async () => {
    const { code, stderr } = await startWith(`postgres://sync:${PASSWORD}@127.0.0.1:${refusing.port}/sync`, ["serve"]);
    expect(code).toBe(78);
    expect(stderr).toBe(
      `Configuration error: DATABASE_URL (server 127.0.0.1:${refusing.port}, database "sync"): the server refused the user name or password; correct the credentials\n`,
    );
  });

  it("names a host that does not resolve", async () => {
    const { code, stderr } = await startWith(`postgres://sync:${PASSWORD}@no-such-host.invalid/sync`, [
      "links",
      "default",
    ]);
    expect(code).toBe(78);
    expect(stderr).toContain(
      'DATABASE_URL (server no-such-host.invalid:5432, database "sync"): the host name does not resolve',
    );
    expect(stderr).not.toContain(PASSWORD);
  });
});
