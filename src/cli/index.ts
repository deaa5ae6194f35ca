#!/usr/bin/env node
/**
 * entra-wp-sync serve | migrate | links <job> [--expires-in 30d] | run <job> [--dry-run] | status [job]
 *   | user <email|entraId> [--limit 50] | scim-token <job>
 * (-h/--help on each; --version)
 *
 * Exit codes: 0 success (run: completed), 1 failure (run: failed or cancelled), 2 run awaiting
 * approval, 64 bad arguments (EX_USAGE), 78 bad configuration (EX_CONFIG), 130 interrupted.
 * Settings come from the environment and, like `npm start`, from ./.env when present (variables
 * already set win). Commands other than serve open the runtime without HTTP and log warnings and
 * errors only to stderr (LOG_LEVEL debug or trace shows more), so stdout carries just their output.
 * links, run, status, user and scim-token go through the admin API: that of the service holding
 * DATA_DIR when one runs beside them on the embedded database, else their own (admin-api.ts).
 */
import fs from "node:fs";
import { loadConfig } from "../config";
import { AppError, ConfigError, coerceError } from "../core/errors";
import { migrate } from "../db/migrate";
import { openDatabase } from "../db/pool";
import { makeLogger } from "../logger";
import { runServe } from "../main";
import { packageVersion } from "../package-root";
import { loadJobs } from "../sync/jobs";
import { type AdminApi, openAdminApi } from "./admin-api";
import { type CommandSpec, commandHelp, EXIT_USAGE, type ParsedArgs, parseCommandArgs, UsageError } from "./args";
import { linksArgs, linksCommand, linksSpec } from "./links";
import { knownJob, runArgs, runCommand, runSpec } from "./run";
import { scimTokenArgs, scimTokenCommand, scimTokenSpec } from "./scim-token";
import { statusArgs, statusCommand, statusSpec } from "./status";
import { userArgs, userCommand, userSpec } from "./user";

const serveSpec: CommandSpec = {
  name: "serve",
  synopsis: "",
  summary: "start the HTTP service (what npm start runs)",
  details: "SIGTERM or SIGINT stops it gracefully: in-flight requests and the step in flight finish first.",
  positionals: { min: 0, max: 0, names: "" },
};
const migrateSpec: CommandSpec = {
  name: "migrate",
  synopsis: "",
  summary: "apply database migrations and exit",
  details: "serve applies them at start-up too; several processes may migrate at once.",
  positionals: { min: 0, max: 0, names: "" },
};

/** Each command: its arguments, and what it does with them (an exit code; -1 keeps the process running). */
const COMMANDS: Array<{ spec: CommandSpec; execute(args: ParsedArgs): Promise<number> }> = [
  {
    spec: serveSpec,
    async execute() {
      await runServe();
      return -1;
    },
  },
  { spec: migrateSpec, execute: migrateCommand },
  {
    spec: linksSpec,
    execute(parsed) {
      const args = linksArgs(parsed);
      return withAdminApi(args.job, (api) => linksCommand(api, args, { stdout: process.stdout }));
    },
  },
  { spec: runSpec, execute: (args) => runInForeground(args) },
  {
    spec: statusSpec,
    execute(parsed) {
      const args = statusArgs(parsed);
      return withAdminApi(args.job, (api) => statusCommand(api, args, { stdout: process.stdout }));
    },
  },
  {
    spec: userSpec,
    execute(parsed) {
      const args = userArgs(parsed);
      return withAdminApi(null, (api) => userCommand(api, args, { stdout: process.stdout }));
    },
  },
  {
    spec: scimTokenSpec,
    execute(parsed) {
      const args = scimTokenArgs(parsed);
      return withAdminApi(args.job, (api) =>
        scimTokenCommand(api, args, { stdout: process.stdout, stderr: process.stderr }),
      );
    },
  },
];

const USAGE = `Usage: entra-wp-sync <command> [-h | --help]
${COMMANDS.map(({ spec }) => `  ${`${spec.name} ${spec.synopsis}`.padEnd(35)}${spec.summary}`).join("\n")}
  --version                          print the version
Settings: the environment, and ./.env when present (like npm start).`;

async function main(argv: string[]): Promise<number> {
  loadDotEnv();
  const [name = "serve", ...rest] = argv;
  if (name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find(({ spec }) => spec.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  const args = parseCommandArgs(command.spec, rest);
  if (args.help) {
    process.stdout.write(`${commandHelp(command.spec)}\n`);
    return 0;
  }
  return command.execute(args);
}

/** Like `npm start` (node --env-file=.env): the settings in ./.env, under those already in the environment. */
function loadDotEnv(): void {
  if (fs.existsSync(".env")) process.loadEnvFile(".env");
}

async function migrateCommand(): Promise<number> {
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

async function runInForeground(parsed: ParsedArgs): Promise<number> {
  const args = runArgs(parsed);
  let interrupted = false;
  // First Ctrl-C: finish the step in flight and stop (the run stays resumable); second: exit now.
  process.on("SIGINT", () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write("\nStopping after the step in flight (Ctrl-C again to exit at once)\n");
  });
  return withAdminApi(args.job, (api) =>
    runCommand(api, args, {
      stdout: process.stdout,
      stderr: process.stderr,
      interrupted: () => interrupted,
    }),
  );
}

/**
 * Runs a command against the admin API (admin-api.ts: the service beside, or this process's own).
 * The job it names is checked against the jobs file first, before any lock or connection.
 */
async function withAdminApi(job: string | null, work: (api: AdminApi) => Promise<number>): Promise<number> {
  const config = loadConfig();
  if (job !== null) knownJob(loadJobs(config), job);
  const api = await openAdminApi(config);
  try {
    return await work(api);
  } finally {
    await api.close();
  }
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
    // An AppError is a refusal the service would answer with a problem (e.g. 409): its sentence, no stack.
    process.stderr.write(
      err instanceof ConfigError
        ? `Configuration error: ${err.message}\n`
        : err instanceof AppError
          ? `entra-wp-sync: ${err.message}\n`
          : `${err.stack ?? err.message}\n`,
    );
    process.exit(err instanceof ConfigError ? 78 : 1);
  },
);
