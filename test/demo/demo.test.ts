/**
 * `npm run demo` end to end on the in-memory WordPress (the real one is scripts/wordpress-local.sh,
 * tested on its own): its summaries name the job and the mode. The trigger links answer progress
 * only, so summaries printed from their answers said `job undefined` and `mode undefined`.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { childEnv } from "../replicas/setup";

const DEMO = path.resolve(__dirname, "../../dist/tools/demo/main.js");

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it("prints summaries that name the job and the mode, and stops with --exit", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ews-demo-"));
  try {
    // The Graph simulator serves the suite's certificates from ./.tmp/certs.
    fs.mkdirSync(path.join(dir, ".tmp"));
    fs.symlinkSync(path.resolve(__dirname, "../../.tmp/certs"), path.join(dir, ".tmp/certs"));
    const port = await freePort();
    const ca: Record<string, string> = process.env.NODE_EXTRA_CA_CERTS
      ? { NODE_EXTRA_CA_CERTS: path.resolve(process.env.NODE_EXTRA_CA_CERTS) }
      : {};
    const child = spawn(
      process.execPath,
      [DEMO, "--users", "60", "--port", String(port), "--fake-wordpress", "--exit"],
      { cwd: dir, env: childEnv(ca), stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(out.match(/^Run [0-9a-f-]{36} of job default: completed/gm)).toHaveLength(2);
    expect(out).toMatch(/steps \(\d+ here\), mode (full|delta)/);
    expect(out).not.toContain("undefined");
    expect(out).toContain("Stopped (--exit).");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
