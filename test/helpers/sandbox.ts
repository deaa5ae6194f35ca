/**
 * A throw-away project directory for testing what an operator types (`npm start`, the CLI) with
 * its own `.env`: package.json is the real one (its start script unchanged) except that `build`
 * does nothing, since the suite already built dist/ and a second build would rewrite it under
 * the other test files; dist/, node_modules/, migrations/ and scripts/ are links to the real ones.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { childEnv } from "../replicas/setup";

const ROOT = path.resolve(__dirname, "../..");

export interface Sandbox {
  dir: string;
  /** Runs a command in the sandbox with only the basic environment plus `env` (no settings inherited). */
  spawn(command: string, args: string[], env?: Record<string, string>): Running;
  remove(): void;
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit code, or the signal name when a signal ended it. */
  exited: Promise<number | string | null>;
}

export function makeSandbox(dotEnv: Record<string, string>): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ews-sandbox-"));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  pkg.scripts.build = "true";
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  for (const name of ["dist", "node_modules", "migrations", "scripts"])
    fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  const lines = Object.entries(dotEnv).map(([key, value]) => `${key}=${value}`);
  fs.writeFileSync(path.join(dir, ".env"), `${lines.join("\n")}\n`);
  return {
    dir,
    spawn(command, args, env = {}) {
      // The suite's CA path is relative to the project; the child runs elsewhere.
      const ca: Record<string, string> = process.env.NODE_EXTRA_CA_CERTS
        ? { NODE_EXTRA_CA_CERTS: path.resolve(process.env.NODE_EXTRA_CA_CERTS) }
        : {};
      const child = spawn(command, args, {
        cwd: dir,
        env: childEnv({ ...ca, ...env }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout!.on("data", (chunk) => {
        out += chunk;
      });
      child.stderr!.on("data", (chunk) => {
        err += chunk;
      });
      const exited = new Promise<number | string | null>((resolve) =>
        child.on("exit", (code, signal) => resolve(code ?? signal)),
      );
      return { child, stdout: () => out, stderr: () => err, exited };
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Resolves with the first value `probe` returns that is not undefined; rejects after `ms`. */
export async function poll<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
