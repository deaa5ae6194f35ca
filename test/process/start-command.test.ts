/**
 * `npm start` hands the process over to node: a supervisor (systemd, a container runtime, a
 * process manager) that signals the main PID reaches the service itself, which stops gracefully.
 * Without `exec`, npm signals the shell between them: SIGTERM killed the shell and left node
 * serving as an orphan, SIGINT did nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { makeTestDatabase } from "../helpers/db";
import { makeSandbox, poll, type Running, type Sandbox } from "../helpers/sandbox";

let sandbox: Sandbox;
let databaseUrl: string | null;

beforeAll(async () => {
  const db = await makeTestDatabase();
  await db.close();
  databaseUrl = db.url;
});

afterEach(() => sandbox?.remove());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `npm start` and waits for the service's "listening" log line; returns its url and pid. */
async function npmStart(): Promise<{ running: Running; url: string; pid: number }> {
  sandbox = makeSandbox({
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: "./data" }),
  });
  const running = sandbox.spawn("npm", ["start"]);
  const listening = await poll("the service to listen", 45_000, () => {
    if (running.child.exitCode !== null) throw new Error(`npm start exited: ${running.stderr()}`);
    const line = running
      .stdout()
      .split("\n")
      .find((text) => text.includes("entra-wp-sync is listening"));
    return line ? (JSON.parse(line) as { url: string; pid: number }) : undefined;
  });
  return { running, ...listening };
}

describe("npm start", () => {
  it.each(["SIGTERM", "SIGINT"] as const)(
    "stops the service gracefully when %s is sent to the npm process",
    async (signal) => {
      const { running, url, pid } = await npmStart();
      expect(pid).not.toBe(running.child.pid);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      running.child.kill(signal);
      let exited: number | string | null = "still running";
      let timer: NodeJS.Timeout | undefined;
      try {
        exited = await Promise.race([
          running.exited,
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve("still running after 20 s"), 20_000);
          }),
        ]);
        expect(exited).toBe(0);
        expect(alive(pid)).toBe(false);
        expect(running.stdout()).toContain('"msg":"stopped"');
        await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      } finally {
        clearTimeout(timer);
        // Whatever happened, no orphan outlives the test.
        if (alive(pid)) process.kill(pid, "SIGKILL");
        if (typeof exited === "string" && exited.startsWith("still running")) running.child.kill("SIGKILL");
      }
    },
  );
});

describe("the Docker image", () => {
  it("runs node as PID 1 (exec form CMD, no shell or npm in between), so docker stop reaches the service", () => {
    const dockerfile = fs.readFileSync(path.resolve(__dirname, "../../Dockerfile"), "utf8");
    const cmd = dockerfile.match(/^CMD (.*)$/m)?.[1];
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd!)).toEqual(["node", "dist/src/cli/index.js", "serve"]);
    expect(dockerfile).not.toMatch(/^ENTRYPOINT/m);
  });
});
