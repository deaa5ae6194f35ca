/**
 * The CLI reads ./.env like `npm start` does (node --env-file=.env), so the links it prints use the
 * PUBLIC_URL the service uses, not the default; variables already in the environment win.
 */
import { makeTestDatabase } from "../helpers/db";
import { makeSandbox, type Sandbox } from "../helpers/sandbox";
import { CLI } from "../replicas/setup";

let sandbox: Sandbox;

beforeAll(async () => {
  const db = await makeTestDatabase();
  await db.close();
  sandbox = makeSandbox({
    PUBLIC_URL: "https://links.example.org",
    ADMIN_TOKEN: "an-admin-token-from-the-dotenv-file-0123",
    LINK_SIGNING_KEYS: "k1:a-signing-secret-from-the-dotenv-file-0123",
    ...(db.url ? { DATABASE_URL: db.url } : { DATA_DIR: "./data" }),
  });
});
afterAll(() => sandbox?.remove());

async function links(env: Record<string, string> = {}) {
  const running = sandbox.spawn(process.execPath, [CLI, "links", "default"], env);
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

describe("the CLI and .env", () => {
  it("takes its settings from ./.env", async () => {
    const { code, stdout, stderr } = await links();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^start {5}https:\/\/links\.example\.org\/v1\/jobs\/default\/start\?token=/m);
    expect(stdout).toMatch(/^continue {2}https:\/\/links\.example\.org\/v1\/jobs\/default\/continue\?token=/m);
  });

  it("lets a variable set in the environment win over .env", async () => {
    const { code, stdout } = await links({ PUBLIC_URL: "https://override.example.org" });
    expect(code).toBe(0);
    expect(stdout).toContain("https://override.example.org/v1/jobs/default/start?token=");
    expect(stdout).not.toContain("links.example.org");
  });
});
