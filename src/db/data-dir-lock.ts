/**
 * One process at a time on the embedded database. PGlite is PostgreSQL compiled to WebAssembly
 * inside one process: two processes opening the same data directory corrupt it (seen as
 * `RuntimeError: Aborted()` in a CLI `status` run beside a service that had written a run). So
 * whoever opens DATA_DIR first holds a lock file there, and any other process (a CLI command, a
 * second `serve`) is refused with one sentence saying who holds it and what to do instead.
 *
 * A serving process then adds where it listens and a local token to its lock file (advertiseService),
 * so the CLI beside it goes through its admin API instead (findService). The file is 0600 in the
 * 0700 DATA_DIR: whoever can read the token can read the database itself, so it grants nothing new.
 */
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../core/errors";

const LOCK_FILE = "entra-wp-sync.lock";
/** A lock file that cannot be read is being written by its owner, unless it is older than this. */
const UNREADABLE_STALE_MS = 5_000;

interface Holder {
  pid: number;
  command: string;
  since: string;
  /** A serving holder's address (loopback) and local token, once it listens. */
  url?: string;
  token?: string;
}

/** The service holding DATA_DIR, as the CLI beside it reaches it. */
export interface LocalService {
  pid: number;
  url: string;
  token: string;
}

export class DataDirInUseError extends ConfigError {
  override name = "DataDirInUseError";
}

/**
 * Takes the lock of `dir` for this process, or throws DataDirInUseError naming the live holder.
 * Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  // The command line after the script (e.g. "serve", "status staff"): job names and flags, no secrets.
  const command = process.argv.slice(2, 4).join(" ") || "serve";
  const holder: Holder = { pid: process.pid, command, since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(holder), { flag: "wx", mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 2) throw error;
    }
    const current = readHolder(file);
    if (current === "being written") throw inUse(dir, null);
    if (current && current.pid !== process.pid && isAlive(current.pid)) throw inUse(dir, current);
    // Left by a process that is gone (killed, or this same pid in an earlier container life).
    fs.rmSync(file, { force: true });
  }
  const release = () => {
    const current = readHolder(file);
    if (current && current !== "being written" && current.pid === process.pid) fs.rmSync(file, { force: true });
    process.removeListener("exit", release);
  };
  // A crash that still runs exit handlers leaves no lock behind; a SIGKILL's lock is found stale above.
  process.on("exit", release);
  return release;
}

/**
 * Adds this serving process's address and local token to the lock it holds. Written to a new file
 * and renamed over the lock, so a reader never sees half of it and the lock never disappears.
 */
export function advertiseService(dir: string, service: { url: string; token: string }): void {
  const file = path.join(dir, LOCK_FILE);
  const current = readHolder(file);
  if (!current || current === "being written" || current.pid !== process.pid) return;
  const next = `${file}.${process.pid}.tmp`;
  fs.rmSync(next, { force: true });
  fs.writeFileSync(next, JSON.stringify({ ...current, ...service }), { flag: "wx", mode: 0o600 });
  fs.renameSync(next, file);
}

/**
 * The live service holding `dir`, or null when no other process holds it (the caller may open it).
 * Throws DataDirInUseError when a live process holds it without serving (another CLI command, or
 * a service still starting).
 */
export function findService(dir: string): LocalService | null {
  const current = readHolder(path.join(dir, LOCK_FILE));
  if (current === null) return null;
  if (current === "being written") throw inUse(dir, null);
  if (current.pid === process.pid || !isAlive(current.pid)) return null;
  if (typeof current.url === "string" && typeof current.token === "string") {
    return { pid: current.pid, url: current.url, token: current.token };
  }
  throw inUse(dir, current);
}

function readHolder(file: string): Holder | "being written" | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Holder;
    if (Number.isInteger(parsed.pid)) return parsed;
  } catch {
    // fall through
  }
  const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
  return age < UNREADABLE_STALE_MS ? "being written" : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function inUse(dir: string, holder: Holder | null): DataDirInUseError {
  const who = holder
    ? `another entra-wp-sync process (pid ${holder.pid}, ${holder.command}, since ${holder.since})`
    : "another entra-wp-sync process";
  return new DataDirInUseError(
    `the embedded database in DATA_DIR ${dir} is open in ${who}, and two processes must not open it at once: use that service's admin API or /status instead, stop it first, or set DATABASE_URL to a PostgreSQL server that both can share`,
  );
}
