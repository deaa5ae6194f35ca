/**
 * PostgreSQL through `pg`: one pool for the process, with error handlers, and `withTransaction`.
 * With no DATABASE_URL an embedded PostgreSQL (PGlite) is started in DATA_DIR and served by
 * pglite-socket, so the very same `pg` code path serves both. It answers without a password, so
 * it listens on a Unix socket in a fresh 0700 directory, never on a TCP port: only this
 * process's user can reach it, where 127.0.0.1 would admit every local user and process.
 *
 * Only one process may open DATA_DIR at a time (data-dir-lock.ts).
 *
 * PGlite runs one transaction at a time: a transaction must never wait on another connection
 * (the design already forbids holding a transaction across Graph or WordPress calls).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Pool, type PoolClient, type PoolConfig } from "pg";
import { ConfigError } from "../core/errors";
import type { Logger } from "../logger";
import { ensurePrivateDir } from "../private-files";
import { ensureDataDir } from "./data-dir";
import { lockDataDir } from "./data-dir-lock";

export interface Database {
  pool: Pool;
  /** "embedded" when PGlite was started in-process. */
  kind: "postgres" | "embedded";
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string | null;
  dataDir: string;
  logger: Logger;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = makePool({ connectionString: options.url, max: options.poolSize ?? 10 }, options.logger);
    await checkConnection(pool, options.url);
    return { pool, kind: "postgres", close: () => pool.end() };
  }
  return openEmbedded(options);
}

function makePool(config: PoolConfig, logger: Logger): Pool {
  const pool = new Pool({ connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, ...config });
  // An idle client losing its connection (server restart) emits here; without a handler the process dies.
  pool.on("error", (error) => logger.warn({ err: error }, "idle database connection failed; it will be replaced"));
  return pool;
}

const SOCKET_PORT = 5432;

async function openEmbedded(options: DatabaseOptions): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  ensureDataDir(options.dataDir);
  const dir = path.join(options.dataDir, "pglite");
  ensurePrivateDir(dir);
  const unlock = lockDataDir(options.dataDir);
  const db = await PGlite.create(dir).catch((error) => {
    unlock();
    throw error;
  });
  // In the temporary directory, not DATA_DIR: a socket path must stay under ~100 bytes.
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), "entra-wp-sync-pg-"));
  fs.chmodSync(socketDir, 0o700);
  const server = new PGLiteSocketServer({
    db,
    path: path.join(socketDir, `.s.PGSQL.${SOCKET_PORT}`),
    maxConnections: 16,
  });
  await server.start();
  options.logger.info(
    { dataDir: dir },
    "no DATABASE_URL: using the embedded PostgreSQL (PGlite) persisted in DATA_DIR",
  );
  // pg reaches a Unix socket through host = its directory; the port only names the socket file.
  const pool = makePool(
    { host: socketDir, port: SOCKET_PORT, user: "postgres", database: "postgres", max: options.poolSize ?? 8 },
    options.logger,
  );
  return {
    pool,
    kind: "embedded",
    async close() {
      await pool.end();
      await server.stop();
      await db.close();
      fs.rmSync(socketDir, { recursive: true, force: true });
      unlock();
    },
  };
}

/**
 * Connects once at start-up, so that a wrong DATABASE_URL stops the process with one line naming
 * the server and the database (never the password) instead of a stack trace at the first query.
 */
async function checkConnection(pool: Pool, url: string): Promise<void> {
  try {
    await pool.query("select 1");
  } catch (error) {
    await pool.end().catch(() => undefined);
    const why = describeConnectionError(error);
    if (why === null) throw error;
    throw new ConfigError(`DATABASE_URL (${describeDatabaseUrl(url)}): ${why}`);
  }
}

/** host:port/database of a connection string: what an operator needs to find it, no credentials. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.slice(1)) || "(default database)";
    return `server ${parsed.hostname || "localhost"}:${parsed.port || "5432"}, database "${database}"`;
  } catch {
    return "not a valid postgres:// URL";
  }
}

/** Why the first connection failed, in words, for the errors an operator fixes; null for anything else. */
export function describeConnectionError(error: unknown): string | null {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  switch (code) {
    case "ECONNREFUSED":
      return "no PostgreSQL server accepts connections there (connection refused); start it, or correct the host and port";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name does not resolve; correct the host";
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "the server does not answer (network unreachable or filtered); check the host, port and firewall";
    case "3D000":
      return "the database does not exist; create it first (e.g. createdb), the service creates its tables itself";
    case "28P01":
    case "28000":
      return "the server refused the user name or password; correct the credentials";
    case "42501":
      return "the user may not connect to this database; grant it CONNECT (and CREATE, for the migrations)";
  }
  if (typeof message === "string" && /timeout exceeded when trying to connect/i.test(message)) {
    return "the server did not answer within 10 s; check the host, port and firewall";
  }
  // pg's words when the first bytes back are not PostgreSQL's: an HTTP server answers 400 and
  // hangs up ("Connection terminated unexpectedly"), MariaDB's greeting reads as a stray message
  // ("Received unexpected copyData message from backend.").
  if (
    typeof message === "string" &&
    /Connection terminated unexpectedly|Received unexpected .* message/i.test(message)
  ) {
    return "the server there is not PostgreSQL, or it hung up during PostgreSQL's handshake; correct the port (PostgreSQL's is 5432; 3306 is MySQL's and MariaDB's, 80, 443 and 8080 are web servers')";
  }
  return null;
}

/** Runs fn in a transaction on one client; rolls back on any error. Keep it short: no I/O but SQL inside. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Anything that can run a query: the pool or a client inside a transaction. */
export type Queryable = Pick<Pool, "query">;

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * The database cannot be reached right now (as opposed to a query that is wrong): a refused or
 * lost connection, pg-pool's connect timeout, or a server shutting down or starting (SQLSTATE
 * class 08, 57P01-57P03). Callers answer 503 and try again later.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08") || /^57P0[1-3]$/.test(code))) {
    return true;
  }
  return (
    typeof message === "string" &&
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    )
  );
}
