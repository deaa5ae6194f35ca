/**
 * Row "peak RSS at 100,000 users". Only the service's own memory may count, so the Graph simulator
 * runs in a child process (tools/graph-sim/main.js) and each measured run in another
 * (bench/memory-child.js), whose peak RSS (getrusage maxRSS) is read at its end: a first sync of
 * every user into a MemorySite (whose 100,000 stored users are counted too: they live in the
 * measured process), then, in a fresh process on the same database, a re-sync that lists them all.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

export interface MemoryRun {
  mode: "first" | "resync";
  maxRssMb: number;
  /** RSS with the runtime open, before the run: the service's baseline. */
  rssBeforeRunMb: number;
  /** Heap in use after a forced GC at the end of the run (fake WordPress included). */
  liveHeapMb: number;
  wallMs: number;
  users: number;
  wpRequests: Record<string, number>;
}

export interface MemoryResult {
  users: number;
  first: MemoryRun;
  resync: MemoryRun;
}

const run = promisify(execFile);

export async function benchMemory(users: number): Promise<MemoryResult> {
  const sim = await startSimulatorProcess(users);
  try {
    const child = async (mode: MemoryRun["mode"]): Promise<MemoryRun> => {
      const { stdout } = await run(process.execPath, ["--expose-gc", join(__dirname, "..", "memory-child.js"), mode], {
        env: { ...process.env, ...sim.env },
        maxBuffer: 1 << 20,
      });
      return JSON.parse(stdout.trim().split("\n").pop()!) as MemoryRun;
    };
    const first = await child("first");
    const resync = await child("resync");
    return { users, first, resync };
  } finally {
    sim.process.kill("SIGTERM");
  }
}

async function startSimulatorProcess(users: number): Promise<{ process: ChildProcess; env: Record<string, string> }> {
  const main = join(__dirname, "..", "..", "tools", "graph-sim", "main.js");
  const args = ["--port", "0", "--users", String(users), "--guests", "0", "--disabled", "0"];
  const child = spawn(process.execPath, [main, ...args, "--without-mail", "0", "--groups", "0", "--seed", "15"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const env: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.once("exit", (code) => reject(new Error(`Graph simulator exited (${code}): ${out}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      for (const match of out.matchAll(/^(AZURE_[A-Z_]+|GRAPH_BASE_URL)=(.*)$/gm)) env[match[1]!] = match[2]!;
      if (env.GRAPH_BASE_URL) resolve();
    });
  });
  child.removeAllListeners("exit");
  return { process: child, env };
}
