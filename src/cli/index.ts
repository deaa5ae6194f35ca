#!/usr/bin/env node
/**
 * entra-wp-sync serve | migrate | links <job> [--expires-in 30d] | run <job> [--dry-run] | status [job]
 *
 * Exit codes: 0 success (run: completed), 1 failure (run: failed or cancelled), 2 run awaiting
 * approval, 64 bad arguments (EX_USAGE), 78 bad configuration (EX_CONFIG), 130 interrupted.
 * Commands other than serve open the runtime without HTTP and log warnings and errors only to
 * stderr (LOG_LEVEL debug or trace shows more), so stdout carries just their output.
 */
import pino from "pino";
import { type Config, loadConfig } from "../config";
import { ConfigError, coerceError } from "../core/errors";
import { migrate } from "../db/migrate";
import { openDatabase } from "../db/pool";
import { makeLogger } from "../logger";
import { runServe } from "../main";
import { openRuntime, type Runtime } from "../runtime";
import { EXIT_USAGE, UsageError } from "./args";
import { linksCommand, parseLinksArgs } from "./links";
import { parseRunArgs, runCommand } from "./run";
import { parseStatusArgs, statusCommand } from "./status";

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
      if (rest.length > 0) throw new UsageError(`serve: unexpected argument "${rest[0]}" (it takes none)`);
      await runServe();
      return -1; // keeps running
    case "migrate": {
      if (rest.length > 0) throw new UsageError(`migrate: unexpected argument "${rest[0]}" (it takes none)`);
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
    case "run": {
      const args = parseRunArgs(rest);
      let interrupted = false;
      // First Ctrl-C: finish the step in flight and stop (the run stays resumable); second: exit now.
      process.on("SIGINT", () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write("\nStopping after the step in flight (Ctrl-C again to exit at once)\n");
      });
      return withRuntime((runtime) =>
        runCommand(runtime, args, {
          stdout: process.stdout,
          stderr: process.stderr,
          interrupted: () => interrupted,
        }),
      );
    }
    case "status": {
      const args = parseStatusArgs(rest);
      return withRuntime((runtime) => statusCommand(runtime, args, { stdout: process.stdout }));
    }
    case "links": {
      const args = parseLinksArgs(rest);
      return withRuntime((runtime) => linksCommand(runtime, args, { stdout: process.stdout }));
    }
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function withRuntime(work: (runtime: Runtime) => Promise<number>): Promise<number> {
  const config = loadConfig();
  const runtime = await openRuntime(cliConfig(config), {
    logDestination: pino.destination({ fd: 2, sync: true }),
  });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/** The CLI keeps its own output readable: info-level engine logs only when asked for more (debug, trace). */
function cliConfig(config: Config): Config {
  return config.logLevel === "info" ? { ...config, logLevel: "warn" } : config;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const err = coerceError(error);
    if (err instanceof UsageError) {
      process.stderr.write(`entra-wp-sync: ${err.message}\n${USAGE}\n`);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(
      err instanceof ConfigError ? `Configuration error: ${err.message}\n` : `${err.stack ?? err.message}\n`,
    );
    process.exit(err instanceof ConfigError ? 78 : 1);
  },
);
