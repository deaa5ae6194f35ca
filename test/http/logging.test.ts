import { aRun } from "../helpers/builders";
import { ADMIN_TOKEN, type Harness, KEYS, makeHarness } from "./harness";

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ logLevel: "debug" });
});
afterEach(async () => {
  await h.app.close();
});

describe("logs and error bodies", () => {
  it("never contain a link token, the admin token or a signing secret", async () => {
    h.sync.addRun(aRun().forJob("staff").build());
    const tokens: string[] = [];
    const continueToken = await h.token("staff", "continue");
    const startToken = await h.token("staff", "start");
    const otherJob = await h.token("contractors", "continue");
    tokens.push(continueToken, startToken, otherJob);

    await h.app.inject({ method: "GET", url: `/v1/jobs/staff/continue?token=${continueToken}` });
    await h.app.inject({
      method: "POST",
      url: "/v1/jobs/staff/start",
      headers: { authorization: `Bearer ${startToken}` },
    });
    await h.app.inject({ method: "HEAD", url: `/v1/jobs/staff/continue?token=${continueToken}` });
    const refused = await h.app.inject({ method: "GET", url: `/v1/jobs/staff/continue?token=${otherJob}` });
    const wrongAction = await h.app.inject({ method: "GET", url: `/v1/jobs/staff/start?token=${continueToken}` });
    const wrongAdmin = await h.app.inject({
      method: "GET",
      url: "/v1/jobs",
      headers: { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}Z` },
    });
    const minted = await h.app.inject({ method: "POST", url: "/v1/jobs/staff/links", headers: h.admin });
    for (const link of Object.values(minted.json() as Record<string, string>)) {
      tokens.push(new URL(link).searchParams.get("token")!);
    }
    h.sync.nextAdvance = () => {
      throw new Error(`upstream failed for https://sync.example.org/v1/jobs/staff/continue?token=${continueToken}`);
    };
    const failed = await h.app.inject({ method: "GET", url: `/v1/jobs/staff/continue?token=${continueToken}` });
    expect(failed.statusCode).toBe(500);

    const secrets = [...tokens, ADMIN_TOKEN, ADMIN_TOKEN.slice(0, -1), ...KEYS.map((key) => key.secret)];
    const log = h.logLines.join("");
    expect(h.logLines.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      for (const response of [refused, wrongAction, wrongAdmin, failed]) expect(response.body).not.toContain(secret);
    }
    // The access log still shows which link was called, with the token redacted.
    expect(log).toContain('"url":"/v1/jobs/staff/continue?token=[REDACTED]"');
    expect(log).toMatch(/"reason":"wrong-job".*"trigger link refused"/);
    expect(failed.json().detail).toMatch(/the error is in the service log/);
  });
});
