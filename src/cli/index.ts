#!/usr/bin/env node
/**
 * entra-wp-sync serve | migrate | links <job> [--expires-in 30d] | run <job> [--dry-run] | status [job]
 */
import { loadConfig } from "../config";
import { ConfigError, coerceError } from "../core/errors";
import { migrate } from "../db/migrate";
import { openDatabase } from "../db/pool";
import { makeLogger } from "../logger";
import { runServe } from "../main";

const USAGE = `Usage: entra-wp-sync <command>
  serve                              start the HTTP service (default)
  migrate                            apply database migrations and exit
  links <job> [--expires-in 30d]     print a start and a continue link for a job
  run <job> [--dry-run]              drive one run to its end in the foreground
  status [job]                       print current and last runs`;

async function main(argv: string[]): Promise<number> {
  const [command = "serve", ...rest] = argv;
  switch (command) {
    case "serve":
      await runServe();
      return -1; // keeps running
    case "migrate": {
      const config = loadConfig();
      const logger = makeLogger({ level: config.logLevel });
      const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
      try {
        const applied = await migrate(db.pool, logger);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
      } finally {
        await db.close();
      }
      return 0;
    }
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}" ${rest.length ? `(${rest.join(" ")})` : ""}\n${USAGE}\n`);
      return 64;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const err = coerceError(error);
    process.stderr.write(
      err instanceof ConfigError ? `Configuration error: ${err.message}\n` : `${err.stack ?? err.message}\n`,
    );
    process.exit(err instanceof ConfigError ? 78 : 1);
  },
);
