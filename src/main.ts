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
  for (const line of missingForSync(config)) logger.warn(`a real sync still needs ${line}`);
  // On the embedded database the CLI cannot open DATA_DIR beside the service: it comes through the
  // admin API instead, with the address and local token this process leaves in DATA_DIR's lock.
  const local = runtime.db.kind === "embedded" ? makeLocalToken() : null;
  const app = await buildApp(local ? { ...runtime, localTokenDigest: local.digest } : runtime);
  const url = await app.listen({ port: config.port, host: config.host });
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
