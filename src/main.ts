/**
 * Owns the process: config, the runtime (database, migrations, secrets, engine), the HTTP
 * server, and a graceful shutdown on SIGTERM/SIGINT that lets in-flight requests and steps finish.
 */
import type { AddressInfo } from "node:net";
import type { DestinationStream } from "pino";
import { type Config, loadConfig, missingForSync } from "./config";
import { ConfigError } from "./core/errors";
import { advertiseService } from "./db/data-dir-lock";
import { buildApp } from "./http/app";
import { loopbackUrl, makeLocalToken } from "./local-service";
import { openRuntime, type Runtime, type RuntimeOptions } from "./runtime";

export interface ServeOptions extends Pick<RuntimeOptions, "directory" | "site"> {
  /** Where the once-only admin token line goes (the terminal by default; tests capture it). */
  print?: (line: string) => void;
  logDestination?: DestinationStream;
}

export interface Server {
  url: string;
  runtime: Runtime;
  close(): Promise<void>;
}

export async function serve(config: Config = loadConfig(), options: ServeOptions = {}): Promise<Server> {
  const runtime = await openRuntime(config, options);
  const { logger } = runtime;
  for (const line of missingForSync(config, runtime.jobs)) logger.warn(`a real sync still needs ${line}`);
  // On the embedded database the CLI cannot open DATA_DIR beside the service: it comes through the
  // admin API instead, with the address and local token this process leaves in DATA_DIR's lock.
  const local = runtime.db.kind === "embedded" ? makeLocalToken() : null;
  const app = await buildApp(local ? { ...runtime, localTokenDigest: local.digest } : runtime);
  let url: string;
  try {
    url = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close();
    await runtime.close();
    throw listenError(config, error);
  }
  if (local)
    advertiseService(config.dataDir, { url: loopbackUrl(app.server.address() as AddressInfo), token: local.token });
  runtime.startBackground();
  // Each replica's start-up reconciliation is on record before it says it is serving.
  await runtime.notificationWorker?.started;
  void runtime.checkConnections();
  logger.info(
    { url, publicUrl: config.publicUrl, jobs: runtime.jobs.map((job) => job.id) },
    "entra-wp-sync is listening",
  );
  logger.info(
    "links of a job: `node dist/src/cli/index.js links <job>` or POST /v1/jobs/<job>/links with the admin token; status page: /status",
  );
  const waiting = runtime.jobs.filter((job) => job.trigger.mode === "link-start-continue").map((job) => job.id);
  if (waiting.length > 0) logger.info({ jobs: waiting }, waitingForMonitorLine(waiting));
  const elsewhere = publicUrlPortMismatch(config.publicUrl, new URL(url).port);
  if (elsewhere) logger.warn({ publicUrl: config.publicUrl }, elsewhere);

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      logger.info("shutting down: finishing in-flight requests and the driver's step in flight");
      // The driver starts no new step; the one in flight commits (releasing its lease) before the pool closes.
      await Promise.all([app.close(), runtime.driver?.stop()]);
      await runtime.close();
      logger.info("stopped");
    })();
    return closing;
  };
  return { url, runtime, close };
}

/** Why the server could not listen, as the setting to change; anything else as it was. */
function listenError(config: Config, error: unknown): unknown {
  const where = `PORT ${config.port} on HOST ${config.host}`;
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case "EADDRINUSE":
      return new ConfigError(
        `${where} is already in use by another process: stop it, or set PORT (or HOST) to a free one`,
      );
    case "EACCES":
      return new ConfigError(
        `${where} needs privileges this user does not have (ports below 1024): set PORT to 1024 or above`,
      );
    case "EADDRNOTAVAIL":
      return new ConfigError(
        `HOST ${config.host} is not an address of this machine: set HOST to one of its addresses, or 0.0.0.0 for all`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ConfigError(
        `HOST ${config.host} does not resolve: set HOST to an address of this machine, or 0.0.0.0 for all`,
      );
  }
  return error;
}

/**
 * Nothing advances a link-start-continue run but its continue link: said at every start, with the
 * monitor's one-liner, so a first run does not sit at step 1 while its operator waits for it.
 */
function waitingForMonitorLine(jobs: string[]): string {
  const names = jobs.map((id) => `"${id}"`).join(", ");
  return `job${jobs.length > 1 ? "s" : ""} ${names} (trigger link-start-continue): nothing advances a run until its continue link is called; keep a monitor calling it every minute, e.g. \`while sleep 60; do curl -fsS "$CONTINUE_LINK" > /dev/null; done\` (the links: \`node dist/src/cli/index.js links <job>\`)`;
}

/**
 * A PUBLIC_URL on this machine that names another port than the one the service listens on
 * (PORT changed, PUBLIC_URL left behind): every link minted would point at that port, silently.
 */
export function publicUrlPortMismatch(publicUrl: string, listeningPort: string): string | null {
  const parsed = new URL(publicUrl);
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname) || parsed.hostname.endsWith(".localhost");
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  if (!local || port === listeningPort) return null;
  return `PUBLIC_URL (${publicUrl}) names port ${port} on this machine, but the service listens on port ${listeningPort} (PORT): the links it mints point there. Unset PUBLIC_URL (it defaults to http://localhost:PORT) or correct it`;
}

/** Entry point for `entra-wp-sync serve`: signals end the process after a graceful close. */
export async function runServe(): Promise<void> {
  let server: Server;
  try {
    server = await serve(loadConfig());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(78); // EX_CONFIG: a supervisor should not restart-loop on it
    }
    throw error;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}
