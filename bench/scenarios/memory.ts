/**
 * Row "peak RSS at 100,000 users". Only the service's own memory may count, so the Graph simulator
 * runs in a child process (tools/graph-sim/main.js) and each measured run in another
 * (bench/memory-child.js), whose peak RSS (getrusage maxRSS) is read at its end: a first sync of
 * every user into a MemorySite (whose 100,000 stored users are counted too: they live in the
 * measured process), then, in a fresh process on the same database, a re-sync that lists them all.
 */
import { measuredChild, startSimulatorProcess } from "../lib/processes";

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

export async function benchMemory(users: number): Promise<MemoryResult> {
  const sim = await startSimulatorProcess(users, 15);
  try {
    const child = (mode: MemoryRun["mode"]) => measuredChild<MemoryRun>("memory-child", [mode], sim.env);
    const first = await child("first");
    const resync = await child("resync");
    return { users, first, resync };
  } finally {
    sim.process.kill("SIGTERM");
  }
}
