/**
 * `npm start` hands the process over to node: a supervisor (systemd, a container runtime, a
 * process manager) that signals the main PID reaches the service itself, which stops gracefully.
 * Without `exec`, npm signals the shell between them: SIGTERM killed the shell and left node
 * serving as an orphan, SIGINT did nothing.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeTestDatabase } from "../helpers/db";
import { makeSandbox, poll, type Running, type Sandbox } from "../helpers/sandbox";
import { childEnv } from "../replicas/setup";

const ROOT = path.resolve(__dirname, "../..");

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

describe("npm start's build", () => {
  // A miniature project with the real start script and build-if-stale.js, whose "service" prints
  // and exits: building the real one twice would take ~25 s and rewrite the suite's dist/.
  let dir: string;
  const entry = () => path.join(dir, "dist/src/cli/index.js");

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ews-build-"));
    const real = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const scripts = { build: real.scripts.build, prestart: real.scripts.prestart, start: real.scripts.start };
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "mini", private: true, scripts }));
    fs.writeFileSync(
      path.join(dir, "tsconfig.build.json"),
      JSON.stringify({
        compilerOptions: { outDir: "dist", rootDir: ".", module: "commonjs", target: "ES2022", types: ["node"] },
        include: ["src"],
      }),
    );
    fs.mkdirSync(path.join(dir, "src/cli"), { recursive: true });
    fs.writeFileSync(path.join(dir, "src/cli/index.ts"), "console.log('first ' + process.argv[2]);\n");
    fs.mkdirSync(path.join(dir, "scripts"));
    fs.copyFileSync(path.join(ROOT, "scripts/build-if-stale.js"), path.join(dir, "scripts/build-if-stale.js"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function start(): { stdout: string; stderr: string } {
    const result = spawnSync("npm", ["start"], { cwd: dir, env: childEnv({}), encoding: "utf8", timeout: 60_000 });
    expect(result.status).toBe(0);
    return { stdout: result.stdout, stderr: result.stderr };
  }

  it("builds on the first start, not again while nothing changed, and again after a source changes", () => {
    const first = start();
    expect(first.stderr).toContain("building dist/ (no build yet)");
    expect(first.stdout).toContain("first serve");
    const builtAt = fs.statSync(entry()).mtimeMs;

    const second = start();
    expect(second.stderr).not.toContain("building dist/");
    expect(second.stdout).toContain("first serve");
    expect(fs.statSync(entry()).mtimeMs).toBe(builtAt);

    // An edit an instant later could share the stamp's mtime on a coarse file system: date it ahead.
    const source = path.join(dir, "src/cli/index.ts");
    fs.writeFileSync(source, "console.log('second ' + process.argv[2]);\n");
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(source, later, later);
    const third = start();
    expect(third.stderr).toContain("building dist/ (src/cli/index.ts is newer than the build)");
    expect(third.stdout).toContain("second serve");
  }, 120_000);

  it("stops without starting when the build fails, and tries again on the next start", () => {
    fs.writeFileSync(path.join(dir, "src/cli/index.ts"), "const broken: number = 'text';\n");
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = spawnSync("npm", ["start"], { cwd: dir, env: childEnv({}), encoding: "utf8", timeout: 60_000 });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain("building dist/ (no build yet)");
    }
  }, 120_000);
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
