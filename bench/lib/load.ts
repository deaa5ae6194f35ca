/**
 * How busy the machine was from OUTSIDE the bench while a row was measured. A ratio or a time
 * measured while other processes competed for the cores says more about the neighbours than about
 * the service, so the bench withholds that row's verdict (PASS or MISS) and prints its numbers.
 *
 * The 1-minute load average cannot tell: the bench's own WordPress rows keep two PHP workers, MariaDB
 * and node runnable on two cores, so a bench alone on a quiet machine read 3.1 and judged itself
 * loaded. Instead each row is measured in a window (cpuWindow): the CPU time the machine spent busy
 * (/proc/stat) minus the CPU time of the bench's own processes over the same wall time, in cores.
 * The bench's own: this process and every child it started (alive, or reaped into its cutime), the
 * bench WordPress's PHP server and workers (their command line names its directory), and the
 * shared database servers (MariaDB, PostgreSQL), whose work during a row is almost all the bench's:
 * a neighbour that only loads a database is missed, one that runs node, jest or PHP is not.
 * Where /proc cannot be read (not Linux), the 1-minute load average against the cores decides.
 */
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

export const coreCount = os.cpus().length;

/**
 * Cores' worth of CPU that processes outside the bench may use on average during a row before its
 * verdict is withheld: a quarter of this 2-core machine. A quiet machine measured 0.0-0.1 (system
 * daemons); one test file running beside the bench takes about one core.
 */
export const OUTSIDE_CORES_LIMIT = 0.5;

/** The 1, 5 and 15 minute load averages now, as printed ("0.52 0.61 0.70"). */
export function loadNow(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** What a window saw. */
export interface OutsideLoad {
  /** CPU used by processes outside the bench, in cores (CPU seconds per second of wall time). */
  outsideCores: number;
  /** CPU used by the bench's own processes (see the file comment), in cores. */
  benchCores: number;
  /** The load averages at the window's start and end, for the record. */
  load: { before: string; after: string };
  /** Whether the row's verdict is withheld: outsideCores above OUTSIDE_CORES_LIMIT. */
  loaded: boolean;
}

interface CpuSample {
  at: number;
  /** Busy CPU time of the whole machine, in clock ticks; null where /proc cannot be read. */
  busy: number | null;
  /** CPU time of the bench's own processes, in clock ticks. */
  own: number;
}

/** Clock ticks per second of /proc's counters (USER_HZ: 100 on every Linux build that matters). */
const TICKS = 100;

function readProc(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** user + nice + system + irq + softirq + steal of /proc/stat's first line (idle and iowait are not busy). */
function machineBusy(): number | null {
  const line = readProc("/proc/stat")?.split("\n")[0];
  if (!line?.startsWith("cpu ")) return null;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime: its own CPU and that of the children it reaped. */
  ticks: number;
}

function procStat(pid: string): ProcStat | null {
  const text = readProc(`/proc/${pid}/stat`);
  if (!text) return null;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  const num = (i: number) => Number(fields[i] ?? 0);
  return {
    pid: Number(pid),
    ppid: num(1),
    comm: text.slice(text.indexOf("(") + 1, close),
    // fields[0] is the state (stat field 3): utime is field 14, so index 11.
    ticks: num(11) + num(12) + num(13) + num(14),
  };
}

const DATABASE_SERVERS = new Set(["mariadbd", "mysqld", "postgres"]);

/** CPU ticks of the bench's own processes now (see the file comment). */
function ownTicks(wordpressDirs: readonly string[]): number {
  const stats = new Map<number, ProcStat>();
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    const stat = procStat(pid);
    if (stat) stats.set(stat.pid, stat);
  }
  const descends = (stat: ProcStat): boolean => {
    for (let p: ProcStat | undefined = stat; p && p.pid > 1; p = stats.get(p.ppid)) {
      if (p.pid === process.pid) return true;
    }
    return false;
  };
  let ticks = 0;
  for (const stat of stats.values()) {
    let own = DATABASE_SERVERS.has(stat.comm) || descends(stat);
    if (!own && stat.comm === "php" && wordpressDirs.length > 0) {
      const cmdline = readProc(`/proc/${stat.pid}/cmdline`)?.replaceAll("\0", " ") ?? "";
      own = wordpressDirs.some((dir) => cmdline.includes(`${dir}/htdocs`));
    }
    if (own) ticks += stat.ticks;
  }
  return ticks;
}

const wordpressDirs: string[] = [];

/** The bench WordPress whose PHP server counts as the bench's own (bench/lib/wordpress.ts). */
export function countAsBench(wordpressDir: string): void {
  if (!wordpressDirs.includes(wordpressDir)) wordpressDirs.push(wordpressDir);
}

function sample(): CpuSample {
  const busy = machineBusy();
  return { at: performance.now(), busy, own: busy === null ? 0 : ownTicks(wordpressDirs) };
}

/** Starts a window; take() tells how busy the machine was from outside the bench since. */
export function cpuWindow(): { take(): OutsideLoad } {
  const start = sample();
  const loadBefore = loadNow();
  return {
    take() {
      const end = sample();
      const seconds = Math.max((end.at - start.at) / 1000, 1e-3);
      const load = { before: loadBefore, after: loadNow() };
      if (start.busy === null || end.busy === null) {
        const oneMinute = Math.max(...[load.before, load.after].map((l) => Number(l.split(" ")[0])));
        return { outsideCores: Number.NaN, benchCores: Number.NaN, load, loaded: oneMinute > coreCount };
      }
      const benchCores = (end.own - start.own) / TICKS / seconds;
      const outsideCores = Math.max(0, (end.busy - start.busy) / TICKS / seconds - benchCores);
      return { outsideCores, benchCores, load, loaded: outsideCores > OUTSIDE_CORES_LIMIT };
    },
  };
}

/** "outside 0.12 cores, bench 1.85 (load 1.41 -> 3.10)", for a row's measured text. */
export function describeLoad(w: OutsideLoad): string {
  const load = `load ${w.load.before} -> ${w.load.after}`;
  if (Number.isNaN(w.outsideCores)) return load;
  return `outside the bench ${w.outsideCores.toFixed(2)} cores, the bench ${w.benchCores.toFixed(2)} (${load})`;
}
