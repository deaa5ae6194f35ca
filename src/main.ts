/**
 * Owns the process: config, logger, database, migrations, secrets, the HTTP server, and a
 * graceful shutdown on SIGTERM/SIGINT that lets in-flight requests (and steps) finish.
 */
import { ensureSecrets } from "./bootstrap";
import { type Config, loadConfig, missingForSync, secretsOf } from "./config";
import { ConfigError } from "./core/errors";
import { migrate } from "./db/migrate";
import { openDatabase } from "./db/pool";
import { buildApp } from "./http/app";
import { makeLogger } from "./logger";
import type { DestinationStream } from "pino";

export interface ServeOptions {
  /** Where the once-only admin token line goes (the terminal by default; tests capture it). */
  print?: (line: string) => void;
  logDestination?: DestinationStream;
}

export async function serve(
  config: Config = loadConfig(),
  options: ServeOptions = {},
): Promise<{ close(): Promise<void>; url: string }> {
  const logger = makeLogger({ level: config.logLevel, secrets: secretsOf(config), destination: options.logDestination });
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  await migrate(db.pool, logger);
  const secrets = await ensureSecrets(config, db, logger, options.print);
  for (const line of missingForSync(config)) logger.warn(`a real sync still needs ${line}`);
  const app = await buildApp({ config, logger, db, secrets });
  const url = await app.listen({ port: config.port, host: config.host });
  logger.info({ url, publicUrl: config.publicUrl }, "entra-wp-sync is listening");

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      logger.info("shutting down: finishing in-flight requests");
      await app.close();
      await db.close();
      logger.info("stopped");
    })();
    return closing;
  };
  return { close, url };
}

/** Entry point for `entra-wp-sync serve`: signals end the process after a graceful close. */
export async function runServe(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(78); // EX_CONFIG: a supervisor should not restart-loop on it
    }
    throw error;
  }
  const server = await serve(config);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}
