import { SignJWT } from "jose";
import { signLink } from "../../src/links";
import { aRun } from "../helpers/builders";
import { AUDIENCE, type Harness, KEYS, makeHarness } from "./harness";

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.app.close();
});

const actions = (h: Harness) => h.sync.calls.filter((call) => /^(startRun|advanceJob|advanceRun)/.test(call));

async function call(method: "GET" | "POST" | "HEAD", url: string, headers: Record<string, string> = {}) {
  return h.app.inject({ method, url, headers });
}

describe("start links", () => {
  it("starts a run on GET with the token in the query", async () => {
    const token = await h.token("staff", "start");
    const response = await call("GET", `/v1/jobs/staff/start?token=${token}`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ job: "staff", started: true, run: { state: "queued", step: 0 } });
    expect(body.reason).toBeUndefined();
    expect(actions(h)).toEqual(["startRun staff link"]);
    expect(response.headers["cache-control"]).toBe("no-store");
  });

  it("starts a run on POST with the token in an Authorization header and ignores whatever body is sent", async () => {
    const token = await h.token("staff", "start");
    const response = await h.app.inject({
      method: "POST",
      url: "/v1/jobs/staff/start",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
      payload: "anything=at-all&{not json",
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ job: "staff", started: true });
  });

  it("answers 200 with started false and the active run when a run is already going", async () => {
    const active = h.sync.addRun(aRun().forJob("staff").withState("listing").build());
    const token = await h.token("staff", "start");
    const response = await call("POST", `/v1/jobs/staff/start?token=${token}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      job: "staff",
      started: false,
      reason: "already running",
      run: { id: active.id },
    });
  });

  it("refuses a start link on a manual job with 403 saying how to run it", async () => {
    const token = await h.token("archive", "start");
    const response = await call("GET", `/v1/jobs/archive/start?token=${token}`);
    expect(response.statusCode).toBe(403);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json().detail).toMatch(/manual.*POST \/v1\/jobs\/archive\/runs/);
    expect(response.json().reason).toBe("trigger mode");
    expect(actions(h)).toEqual([]);
  });

  it("refuses a start link on a scheduled job with 403 naming the schedule", async () => {
    const token = await h.token("nightly", "start");
    const response = await call("GET", `/v1/jobs/nightly/start?token=${token}`);
    expect(response.statusCode).toBe(403);
    expect(response.json().detail).toMatch(/schedule \("0 3 \* \* \*", UTC\).*admin API/);
    expect(actions(h)).toEqual([]);
  });
});

describe("continue links", () => {
  it("advances the active run on GET and on POST", async () => {
    h.sync.addRun(aRun().forJob("staff").build());
    const token = await h.token("staff", "continue");
    for (const method of ["GET", "POST"] as const) {
      const response = await call(method, `/v1/jobs/staff/continue?token=${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ job: "staff", advanced: true, run: { state: "listing" } });
      expect(response.json().note).toBeUndefined();
    }
    expect(actions(h)).toEqual(["advanceJob staff", "advanceJob staff"]);
  });

  it.each(["no active run", "busy", "completed", "awaiting approval"])(
    "answers 200 when the engine reports %p so monitors stay green",
    async (reason) => {
      h.sync.nextAdvance = () => ({ advanced: false, reason, run: null });
      const token = await h.token("staff", "continue");
      const response = await call("GET", `/v1/jobs/staff/continue?token=${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ job: "staff", advanced: false, reason, run: null });
    },
  );

  it("allows a continue link on a job the service drives itself and says so in a note", async () => {
    const token = await h.token("archive", "continue");
    const response = await call("GET", `/v1/jobs/archive/continue?token=${token}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().note).toMatch(/trigger mode "manual".*advances its runs itself/);
  });
});

describe("what a link answer shows of a run", () => {
  const LEAK = "WordPress 500 at https://wp.example.org/wp-json/wp/v2/users/7 for jane.doe@contoso.com (jdoe)";

  it("is progress only (id, state, step, counts, times), never upstream errors, URLs, names or e-mails; the admin API has them", async () => {
    const run = h.sync.addRun(aRun().forJob("staff").withState("listing").withLastError(LEAK).build());
    for (const act of ["start", "continue"] as const) {
      const response = await call("GET", `/v1/jobs/staff/${act}?token=${await h.token("staff", act)}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(Object.keys(body.run).sort()).toEqual(["counts", "finishedAt", "id", "startedAt", "state", "step"]);
      expect(body.run.id).toBe(run.id);
      for (const secret of ["wp.example.org", "jane.doe", "jdoe", "WordPress 500"]) {
        expect(response.body).not.toContain(secret);
      }
    }
    const admin = await h.app.inject({ method: "GET", url: `/v1/runs/${run.id}`, headers: h.admin });
    expect(admin.json()).toMatchObject({ id: run.id, lastError: LEAK });
  });
});

describe("HEAD on a trigger link", () => {
  it("answers 200 for a valid link and never calls the engine", async () => {
    for (const act of ["start", "continue"] as const) {
      const token = await h.token("staff", act);
      const response = await call("HEAD", `/v1/jobs/staff/${act}?token=${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe("");
    }
    expect(h.sync.calls).toEqual([]);
  });

  it("refuses an invalid link like GET does, still without calling the engine", async () => {
    const response = await call("HEAD", "/v1/jobs/staff/start?token=garbage");
    expect(response.statusCode).toBe(401);
    expect(h.sync.calls).toEqual([]);
  });
});

describe("link token refusals over HTTP", () => {
  async function refusal(url: string, headers: Record<string, string> = {}) {
    const response = await call("GET", url, headers);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    return { status: response.statusCode, reason: response.json().reason, response };
  }

  it("refuses a request without a token with 401 and a bare Bearer challenge", async () => {
    const { status, reason, response } = await refusal("/v1/jobs/staff/start");
    expect([status, reason]).toEqual([401, "missing"]);
    expect(response.headers["www-authenticate"]).toBe('Bearer realm="entra-wp-sync"');
  });

  it("refuses a garbage token with 401 and an invalid_token challenge", async () => {
    const { status, reason, response } = await refusal("/v1/jobs/staff/start?token=not.a.jwt");
    expect([status, reason]).toEqual([401, "malformed"]);
    expect(response.headers["www-authenticate"]).toMatch(/error="invalid_token"/);
  });

  it("refuses a token signed with the wrong secret with 401", async () => {
    const forged = await signLink([{ kid: "current", secret: "s".repeat(40) }], {
      sub: "staff",
      act: "start",
      aud: AUDIENCE,
      exp: 2e9,
    });
    expect((await refusal(`/v1/jobs/staff/start?token=${forged}`)).reason).toBe("bad-signature");
  });

  it("refuses a token of a key that is no longer configured with 401", async () => {
    const retired = await signLink([{ kid: "retired", secret: "r".repeat(40) }], {
      sub: "staff",
      act: "start",
      aud: AUDIENCE,
      exp: 2e9,
    });
    const { status, reason } = await refusal(`/v1/jobs/staff/start?token=${retired}`);
    expect([status, reason]).toEqual([401, "unknown-kid"]);
  });

  it("refuses an expired token with 401", async () => {
    const expired = await h.token("staff", "start", { iat: 1_000, exp: 2_000 });
    const { status, reason } = await refusal(`/v1/jobs/staff/start?token=${expired}`);
    expect([status, reason]).toEqual([401, "expired"]);
  });

  it("refuses a continue token on the start link with 403", async () => {
    const token = await h.token("staff", "continue");
    const { status, reason } = await refusal(`/v1/jobs/staff/start?token=${token}`);
    expect([status, reason]).toEqual([403, "wrong-action"]);
    expect(actions(h)).toEqual([]);
  });

  it("refuses a token of another job with 403, also on a job that does not exist", async () => {
    const token = await h.token("contractors", "start");
    expect((await refusal(`/v1/jobs/staff/start?token=${token}`)).status).toBe(403);
    const probe = await refusal(`/v1/jobs/no-such-job/start?token=${token}`);
    expect([probe.status, probe.reason]).toEqual([403, "wrong-job"]);
  });

  it("answers 404 only to a genuine token of a job that is no longer declared", async () => {
    const token = await h.token("gone", "continue");
    const { status } = await refusal(`/v1/jobs/gone/continue?token=${token}`);
    expect(status).toBe(404);
  });

  it("refuses every earlier token of a job once its links are revoked, and accepts the new ones", async () => {
    const before = await h.token("staff", "continue");
    expect((await call("GET", `/v1/jobs/staff/continue?token=${before}`)).statusCode).toBe(200);
    const revoke = await h.app.inject({ method: "POST", url: "/v1/jobs/staff/links/revoke", headers: h.admin });
    const { linksValidFrom } = revoke.json();
    expect(revoke.json()).toEqual({ job: "staff", linksValidFrom: expect.any(String) });
    // The cut-off is the database's clock at the revocation (same machine here: within a second of ours).
    expect(Math.abs(Date.parse(linksValidFrom) - Date.now())).toBeLessThan(1000);
    const { status, reason } = await refusal(`/v1/jobs/staff/continue?token=${before}`);
    expect([status, reason]).toEqual([401, "revoked"]);
    const links = await h.app.inject({ method: "POST", url: "/v1/jobs/staff/links", headers: h.admin });
    const url = new URL(links.json().continue);
    expect((await call("GET", `${url.pathname}${url.search}`)).statusCode).toBe(200);
  });

  it("keeps a link minted between two revocations within one second valid until the second, and dead after it", async () => {
    h.sync.addRun(aRun().forJob("staff").build());
    const revoke = () => h.app.inject({ method: "POST", url: "/v1/jobs/staff/links/revoke", headers: h.admin });
    const mint = async () => {
      const url = new URL(
        (await h.app.inject({ method: "POST", url: "/v1/jobs/staff/links", headers: h.admin })).json().continue,
      );
      return `${url.pathname}${url.search}`;
    };
    const first = Date.parse((await revoke()).json().linksValidFrom);
    const minted = await mint();
    expect((await call("GET", minted)).statusCode).toBe(200);
    const second = Date.parse((await revoke()).json().linksValidFrom);
    expect(second - first).toBeLessThan(1000); // the case whole-second cut-offs got wrong
    const { status, reason } = await refusal(minted);
    expect([status, reason]).toEqual([401, "revoked"]);
  });

  it("accepts a link minted before audiences (its generation, no expiry) until the job's links are revoked", async () => {
    h.sync.addRun(aRun().forJob("staff").build());
    const legacy = await new SignJWT({ act: "continue", gen: 1, iat: Math.floor(Date.now() / 1000) - 86_400 })
      .setProtectedHeader({ alg: "HS256", kid: "current", typ: "JWT" })
      .setSubject("staff")
      .setJti("from-an-earlier-version")
      .sign(new TextEncoder().encode(KEYS[0]!.secret));
    expect((await call("GET", `/v1/jobs/staff/continue?token=${legacy}`)).statusCode).toBe(200);
    await h.app.inject({ method: "POST", url: "/v1/jobs/staff/links/revoke", headers: h.admin });
    const { status, reason } = await refusal(`/v1/jobs/staff/continue?token=${legacy}`);
    expect([status, reason]).toEqual([401, "revoked"]);
  });

  it("accepts a token of the previous key while it is still listed, and mints new links with the first key", async () => {
    const old = await signLink([KEYS[1]!], { sub: "staff", act: "continue", aud: AUDIENCE, exp: 2e9 });
    expect((await call("GET", `/v1/jobs/staff/continue?token=${old}`)).statusCode).toBe(200);
    const links = await h.app.inject({ method: "POST", url: "/v1/jobs/staff/links", headers: h.admin });
    const token = new URL(links.json().start).searchParams.get("token")!;
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid).toBe("current");
  });

  it("refuses an unsigned token", async () => {
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", kid: "current" })).toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: "staff", act: "start", gen: 1, iat: 1, jti: "x" }),
    ).toString("base64url")}.`;
    expect((await refusal(`/v1/jobs/staff/start?token=${unsigned}`)).status).toBe(401);
    const hs384 = await new SignJWT({ act: "start", gen: 1 })
      .setProtectedHeader({ alg: "HS384", kid: "current" })
      .setSubject("staff")
      .setIssuedAt()
      .setJti("x")
      .sign(new TextEncoder().encode(KEYS[0]!.secret));
    expect((await refusal(`/v1/jobs/staff/start?token=${hs384}`)).reason).toBe("malformed");
  });
});
