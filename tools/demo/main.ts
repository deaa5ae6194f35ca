/**
 * `npm run demo [-- --users 3000 --port 3080 --fake-wordpress --exit]`: the whole service on one machine.
 * Starts the service on a fresh embedded database (.tmp/demo/data), the Graph simulator with a
 * tenant of a few thousand users, and a WordPress (see wordpress.ts); prints the signed start and
 * continue links; drives a full run through them with a progress bar; changes the tenant (renames,
 * disables, adds) and runs again, showing only what changed; then prints the /status URL and the
 * admin token and serves until Ctrl-C (or stops right away with --exit).
 */
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatTable } from "../../src/cli/table";
import { loadConfig } from "../../src/config";
import type { ItemAction, RunItem } from "../../src/core/runs";
import { buildApp } from "../../src/http/app";
import { makeLinks } from "../../src/links";
import { openRuntime } from "../../src/runtime";
import { startGraphSimulator } from "../graph-sim";
import { driveByLinks } from "./drive";
import { changeTenant, makeDemoTenant } from "./tenant";
import { chooseWordPress, stopWordPress } from "./wordpress";

const JOB = "default";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "3000" },
      port: { type: "string", default: "3080" },
      exit: { type: "boolean", default: false },
      "fake-wordpress": { type: "boolean", default: false },
    },
  });
  const out = (text: string) => process.stdout.write(text);
  const say = (line = "") => out(`${line}\n`);
  const work = resolve(".tmp/demo");
  const dataDir = resolve(work, "data");
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const demo = makeDemoTenant(Number(values.users));
  const sim = await startGraphSimulator({ tenant: demo.tenant });
  const wordpress = chooseWordPress((line) => process.stderr.write(`${line}\n`), {
    fake: values["fake-wordpress"],
  });
  const port = Number(values.port);
  const publicUrl = `http://localhost:${port}`;
  const logFile = resolve(work, "service.log");
  const config = loadConfig({
    PORT: String(port),
    HOST: "127.0.0.1",
    PUBLIC_URL: publicUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: "info",
    AZURE_TENANT_ID: sim.tenantId,
    AZURE_CLIENT_ID: sim.clientId,
    AZURE_CLIENT_SECRET: sim.clientSecret,
    AZURE_AUTHORITY_HOST: sim.url,
    GRAPH_BASE_URL: sim.url,
    ...(wordpress.kind === "fake"
      ? {}
      : { WP_URL: wordpress.url, WP_USERNAME: wordpress.username, WP_APP_PASSWORD: wordpress.appPassword }),
    SYNC_ROLE_GROUPS: demo.roleGroups.map(({ group, role }) => `${group.id}=${role}`).join(","),
  });
  let adminToken = "";
  const runtime = await openRuntime(config, {
    ...(wordpress.kind === "fake" ? { site: wordpress.site } : {}),
    print: (line) => {
      adminToken = /ADMIN_TOKEN[^:]*: (\S+)/.exec(line)?.[1] ?? adminToken;
    },
    logDestination: createWriteStream(logFile),
  });
  const app = await buildApp(runtime);
  await app.listen({ port, host: config.host });
  runtime.startBackground();
  const close = async () => {
    await app.close();
    await runtime.close();
    await sim.close();
    stopWordPress(wordpress, (line) => process.stderr.write(`${line}\n`));
  };

  try {
    say("entra-wp-sync demo");
    say(`  service    ${publicUrl}  (embedded PostgreSQL in ${dataDir}; log: ${logFile})`);
    say(`  Graph      simulator ${sim.url}: ${demo.describe()}`);
    say(`  WordPress  ${wordpress.note}`);
    say();
    const links = await makeLinks(runtime, JOB);
    say("Links for a scheduler (GET or POST; signed, revocable):");
    say(`  start     ${links.start}`);
    say(`  continue  ${links.continue}`);
    say();

    const enabled = () => [...demo.tenant.users()].filter((u) => u.accountEnabled).length;
    say("First run: the start link, then the continue link until the run is done");
    const first = await driveByLinks(links, enabled(), out, (id) => runtime.sync.run(id));
    say();

    const changes = changeTenant(demo.tenant);
    say(
      `Changing the tenant: renamed ${changes.renamed.length}, disabled ${changes.disabled.length}, added ${changes.added.length}`,
    );
    say("Second run, same links");
    const second = await driveByLinks(links, enabled(), out, (id) => runtime.sync.run(id));
    say();
    say("What the second run changed (unchanged users are left out: they cost no WordPress request):");
    say(indent(formatTable(["action", "e-mail", "name", "change"], (await changedItems(runtime, second.id)).map(row))));
    say();
    say(`Status page  ${publicUrl}/status   (browser login: any user name, the admin token as password)`);
    say(`  curl -H "Authorization: Bearer ${adminToken}" ${publicUrl}/status`);
    say(`Admin token  ${adminToken}`);
    say(`Runs         curl -H "Authorization: Bearer ${adminToken}" ${publicUrl}/v1/jobs/${JOB}/runs`);
    say(`First run ${first.id}, second run ${second.id}`);
  } catch (error) {
    await close();
    throw error;
  }

  if (values.exit) {
    await close();
    say("Stopped (--exit).");
    return;
  }
  say();
  say("Serving until Ctrl-C.");
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

const SHOWN: ItemAction[] = ["create", "update", "reactivate", "deactivate", "delete"];

async function changedItems(runtime: Awaited<ReturnType<typeof openRuntime>>, runId: string): Promise<RunItem[]> {
  const items: RunItem[] = [];
  for (const action of SHOWN) items.push(...(await runtime.sync.items(runId, { action, limit: 100 })).items);
  return items;
}

function row(item: RunItem): string[] {
  const change = Object.entries(item.diff)
    .map(([field, [before, after]]) => `${field}: ${show(before)} -> ${show(after)}`)
    .join("; ");
  return [item.action, item.email ?? "", item.displayName ?? "", change];
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "-";
  return Array.isArray(value) ? `[${value.join(",")}]` : JSON.stringify(value);
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
