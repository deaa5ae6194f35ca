/**
 * Processes of their own, so that a row's peak RSS is the service's alone: the Graph simulator
 * (tools/graph-sim/main.js) and the measured child scripts (bench/memory-child.js, bench/large-child.js).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * The Graph simulator with `users` plain members (no guests, disabled, mail-less users or groups);
 * with `tenants` more than 1, as many tenants of `users` each, their ids and secrets in env as
 * TENANT_<n>=<tenant id>,<client id>,<secret> (n from 2; the first is AZURE_*).
 */
export async function startSimulatorProcess(
  users: number,
  seed: number,
  tenants = 1,
): Promise<{ process: ChildProcess; env: Record<string, string> }> {
  const main = join(__dirname, "..", "..", "tools", "graph-sim", "main.js");
  const args = [
    "--port",
    "0",
    "--users",
    String(users),
    "--guests",
    "0",
    "--disabled",
    "0",
    "--tenants",
    String(tenants),
  ];
  const child = spawn(
    process.execPath,
    [main, ...args, "--without-mail", "0", "--groups", "0", "--seed", String(seed)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const env: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.once("exit", (code) => reject(new Error(`Graph simulator exited (${code}): ${out}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      for (const match of out.matchAll(/^(AZURE_[A-Z_]+|GRAPH_BASE_URL|TENANT_\d+)=(.*)$/gm))
        env[match[1]!] = match[2]!;
      // The "groups:" line comes after every tenant's.
      if (env.GRAPH_BASE_URL && /^groups:/m.test(out)) resolve();
    });
  });
  child.removeAllListeners("exit");
  return { process: child, env };
}

/** In a measured child: the simulator its parent started, from the environment startSimulatorProcess printed. */
export function simulatorFromEnv(): { url: string; tenantId: string; clientId: string; clientSecret: string } {
  return {
    url: process.env.GRAPH_BASE_URL!,
    tenantId: process.env.AZURE_TENANT_ID!,
    clientId: process.env.AZURE_CLIENT_ID!,
    clientSecret: process.env.AZURE_CLIENT_SECRET!,
  };
}

/** Runs bench/<script>.js with --expose-gc and returns the JSON of its last stdout line; its stderr passes through. */
export async function measuredChild<T>(script: string, args: string[], env: Record<string, string>): Promise<T> {
  const pending = execFileAsync(process.execPath, ["--expose-gc", join(__dirname, "..", `${script}.js`), ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 1 << 20,
  });
  pending.child.stderr?.pipe(process.stderr);
  const { stdout } = await pending;
  return JSON.parse(stdout.trim().split("\n").pop()!) as T;
}
