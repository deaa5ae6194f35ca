import { aJob, anItem, aRun, TEST_WEBHOOK_SECRET } from "../helpers/builders";
import { ADMIN_TOKEN, type Harness, makeHarness } from "./harness";

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({
    jobs: [
      aJob().withId("staff").build(),
      aJob()
        .withId("hooked")
        .withTrigger("link-start")
        .withWebhook("https://user:pw@hooks.slack.com/services/T0/B0/s3cr3t?x=1")
        .build(),
    ],
  });
});
afterEach(async () => {
  await h.app.close();
});

const UNKNOWN_RUN = "7b0f5e0c-3c1a-4d5e-9f00-000000000000";

function admin(method: "GET" | "POST", url: string, payload?: unknown, headers: Record<string, string> = {}) {
  return h.app.inject({
    method,
    url,
    headers: { ...h.admin, ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) throw new Error("the CSV does not end with CRLF");
  return rows;
}

describe("admin authentication", () => {
  it.each([
    ["GET", "/v1/jobs"],
    ["GET", "/v1/jobs/staff"],
    ["POST", "/v1/jobs/staff/runs"],
    ["GET", "/v1/jobs/staff/runs"],
    ["GET", `/v1/runs/${UNKNOWN_RUN}`],
    ["GET", `/v1/runs/${UNKNOWN_RUN}/items`],
    ["POST", `/v1/runs/${UNKNOWN_RUN}/cancel`],
    ["POST", `/v1/runs/${UNKNOWN_RUN}/approve`],
    ["POST", "/v1/jobs/staff/links"],
    ["POST", "/v1/jobs/staff/links/revoke"],
    ["POST", "/v1/jobs/staff/users/abc/sync"],
  ] as const)("refuses %s %s without the admin token and with a wrong one", async (method, url) => {
    const none = await h.app.inject({ method, url });
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="entra-wp-sync"');
    expect(none.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const wrong = await h.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers["www-authenticate"]).toMatch(/invalid_token/);
    expect(wrong.body).not.toContain(ADMIN_TOKEN);
    expect(h.sync.calls).toEqual([]);
  });

  it("refuses a link token in place of the admin token", async () => {
    const token = await h.token("staff", "start");
    const response = await h.app.inject({
      method: "GET",
      url: "/v1/jobs",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(401);
  });
});

describe("jobs", () => {
  it("lists the jobs with webhook URLs reduced to their origin", async () => {
    const response = await admin("GET", "/v1/jobs");
    expect(response.statusCode).toBe(200);
    const { jobs } = response.json();
    expect(jobs.map((job: { id: string }) => job.id)).toEqual(["staff", "hooked"]);
    expect(jobs[1].webhook).toBe("https://hooks.slack.com/[REDACTED]");
    expect(jobs[1].webhookSecret).toBe("[REDACTED]");
    expect(response.body).not.toMatch(/s3cr3t|user:pw|x=1/);
    expect(response.body).not.toContain(TEST_WEBHOOK_SECRET.slice(6));
  });

  it("shows one job with its links' revocation cut-off and active run, and 404 for an unknown one", async () => {
    const run = h.sync.addRun(aRun().forJob("staff").build());
    const response = await admin("GET", "/v1/jobs/staff");
    expect(response.json()).toMatchObject({ id: "staff", linksValidFrom: null, activeRun: { id: run.id } });
    const unknown = await admin("GET", "/v1/jobs/nope");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });
});

describe("runs of a job", () => {
  it("starts a run with 201 and a Location, then answers 200 with started false while it is active", async () => {
    const first = await admin("POST", "/v1/jobs/staff/runs", { dryRun: true });
    expect(first.statusCode).toBe(201);
    const body = first.json();
    expect(body).toMatchObject({ job: "staff", started: true, run: { dryRun: true, trigger: "manual" } });
    expect(first.headers.location).toBe(`/v1/runs/${body.run.id}`);
    const second = await admin("POST", "/v1/jobs/staff/runs");
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ started: false, reason: "already running", run: { id: body.run.id } });
  });

  it("lists runs newest first in pages linked by nextBefore", async () => {
    for (let i = 0; i < 3; i++) h.sync.addRun(aRun().forJob("staff").withState("completed").build());
    const page1 = (await admin("GET", "/v1/jobs/staff/runs?limit=2")).json();
    expect(page1.runs).toHaveLength(2);
    expect(page1.runs[0].createdAt > page1.runs[1].createdAt).toBe(true);
    const page2 = (await admin("GET", `/v1/jobs/staff/runs?limit=2&before=${page1.nextBefore}`)).json();
    expect(page2.runs).toHaveLength(1);
    expect(page2.nextBefore).toBeNull();
  });
});

describe("one run", () => {
  it("answers 400 naming the field for a run id that is not a UUID", async () => {
    const response = await admin("GET", "/v1/runs/not-a-uuid");
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json().detail).toMatch(/params\/id/);
  });

  it("answers 404 for an unknown run, on every run route", async () => {
    for (const [method, url] of [
      ["GET", `/v1/runs/${UNKNOWN_RUN}`],
      ["GET", `/v1/runs/${UNKNOWN_RUN}/items`],
      ["POST", `/v1/runs/${UNKNOWN_RUN}/cancel`],
      ["POST", `/v1/runs/${UNKNOWN_RUN}/approve`],
    ] as const) {
      const response = await admin(method, url);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ status: 404, title: "Not Found" });
    }
  });

  it("cancels an active run and answers 409 when cancelling it again", async () => {
    const run = h.sync.addRun(aRun().forJob("staff").build());
    const cancelled = await admin("POST", `/v1/runs/${run.id}/cancel`);
    expect(cancelled.json()).toMatchObject({ id: run.id, state: "cancelled" });
    const again = await admin("POST", `/v1/runs/${run.id}/cancel`);
    expect(again.statusCode).toBe(409);
    expect(again.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("approves a run awaiting approval and answers 409 for a run that is not", async () => {
    const waiting = h.sync.addRun(aRun().forJob("staff").withState("awaiting_approval").build());
    expect((await admin("POST", `/v1/runs/${waiting.id}/approve`)).json()).toMatchObject({ state: "reconciling" });
    const done = h.sync.addRun(aRun().forJob("staff").withState("completed").build());
    expect((await admin("POST", `/v1/runs/${done.id}/approve`)).statusCode).toBe(409);
  });
});

describe("items of a run", () => {
  function seedItems() {
    const items = [
      anItem().withAction("create").withEmail("ann@example.org").withDisplayName('Ann, the "first"').build(),
      anItem()
        .withAction("update")
        .withDisplayName('=HYPERLINK("http://evil")')
        .withDiff({ email: ["a@x", "b@x"] })
        .build(),
      anItem()
        .withAction("skip")
        .withDisplayName("line\nbreak")
        .withEmail("+1@example.org")
        .withWpUserId(null)
        .withReason("@protected")
        .build(),
      anItem().withAction("deactivate").withDisplayName("-minus").withError("WordPress said: no").build(),
      anItem().withAction("create").withEmail("bob@example.org").withDisplayName("Bob").build(),
    ];
    return h.sync.addRun(aRun().forJob("staff").build(), items);
  }

  it("pages items as JSON with a cursor and filters by action and search", async () => {
    const run = seedItems();
    const page = (await admin("GET", `/v1/runs/${run.id}/items?limit=2`)).json();
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBe("2");
    const next = (await admin("GET", `/v1/runs/${run.id}/items?limit=2&cursor=${page.nextCursor}`)).json();
    expect(next.items).toHaveLength(2);
    const creates = (await admin("GET", `/v1/runs/${run.id}/items?action=create&search=BOB`)).json();
    expect(creates.items.map((item: { email: string }) => item.email)).toEqual(["bob@example.org"]);
  });

  it("exports every item as RFC 4180 CSV that parses back to the JSON items, with formulas defused", async () => {
    const run = seedItems();
    const json = (await admin("GET", `/v1/runs/${run.id}/items?limit=1000`)).json();
    const response = await admin("GET", `/v1/runs/${run.id}/items?limit=2`, undefined, { accept: "text/csv" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe(`attachment; filename="run-${run.id}-items.csv"`);
    const [header, ...rows] = parseCsv(response.body);
    expect(header).toEqual([
      "id",
      "entraId",
      "wpUserId",
      "action",
      "status",
      "email",
      "displayName",
      "reason",
      "error",
      "diff",
      "createdAt",
    ]);
    // limit only sets the page size the export is fetched in: every item is there.
    expect(rows).toHaveLength(json.items.length);
    const defuse = (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
    rows.forEach((row, i) => {
      const item = json.items[i];
      const record = Object.fromEntries(header!.map((column, j) => [column, row[j]]));
      expect(record.id).toBe(item.id);
      expect(record.wpUserId).toBe(item.wpUserId === null ? "" : String(item.wpUserId));
      expect(record.email).toBe(item.email === null ? "" : defuse(item.email));
      expect(record.displayName).toBe(defuse(item.displayName));
      expect(record.reason).toBe(item.reason === null ? "" : defuse(item.reason));
      expect(JSON.parse(record.diff!)).toEqual(item.diff);
      expect(record.createdAt).toBe(item.createdAt);
    });
    expect(rows[1]![6]).toBe('\'=HYPERLINK("http://evil")');
    expect(rows[2]![5]).toBe("'+1@example.org");
    expect(rows[2]![7]).toBe("'@protected");
    expect(rows[3]![6]).toBe("'-minus");
  });

  it("answers 400 naming the parameter for an unknown action filter", async () => {
    const run = seedItems();
    const response = await admin("GET", `/v1/runs/${run.id}/items?action=explode`);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].field).toBe("querystring/action");
  });
});

describe("links", () => {
  it("mints start and continue URLs on PUBLIC_URL that work", async () => {
    const response = await admin("POST", "/v1/jobs/staff/links", { expiresIn: "30d" });
    expect(response.statusCode).toBe(200);
    const links = response.json();
    expect(Object.keys(links).sort()).toEqual(["continue", "start"]);
    expect(links.start).toMatch(/^https:\/\/sync\.example\.org\/v1\/jobs\/staff\/start\?token=/);
    const url = new URL(links.start);
    expect((await h.app.inject({ method: "GET", url: `${url.pathname}${url.search}` })).statusCode).toBe(200);
  });

  it("answers 400 naming expiresIn for a bad lifetime", async () => {
    for (const expiresIn of ["soon", 5, "1w"]) {
      const response = await admin("POST", "/v1/jobs/staff/links", { expiresIn });
      expect(response.statusCode).toBe(400);
      expect(response.json().detail).toMatch(/expiresIn/);
    }
  });

  it("answers 404 for links of an unknown job", async () => {
    expect((await admin("POST", "/v1/jobs/nope/links")).statusCode).toBe(404);
    expect((await admin("POST", "/v1/jobs/nope/links/revoke")).statusCode).toBe(404);
  });
});

describe("input validation", () => {
  it("refuses an unknown body field with 400 naming it", async () => {
    const response = await admin("POST", "/v1/jobs/staff/runs", { dryrun: true });
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json().detail).toMatch(/body\/dryrun is not allowed/);
    expect(response.json().errors).toEqual([{ field: "body/dryrun", message: "body/dryrun is not allowed" }]);
  });

  it("refuses a body field of the wrong type with 400 naming it", async () => {
    const response = await admin("POST", "/v1/jobs/staff/runs", { dryRun: "yes please" });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].field).toBe("body/dryRun");
  });

  it("refuses an out-of-range or unknown query parameter with 400 naming it", async () => {
    const big = await admin("GET", "/v1/jobs/staff/runs?limit=1000");
    expect(big.statusCode).toBe(400);
    expect(big.json().errors[0].field).toBe("querystring/limit");
    const unknown = await admin("GET", "/v1/jobs?verbose=1");
    expect(unknown.json().errors[0].field).toBe("querystring/verbose");
  });

  it("refuses malformed JSON with 400 problem+json", async () => {
    const response = await admin("POST", "/v1/jobs/staff/runs", "{not json", { "content-type": "application/json" });
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });
});

describe("one-user sync", () => {
  it("answers 501 until it is implemented", async () => {
    const response = await admin("POST", "/v1/jobs/staff/users/abc/sync", { dryRun: true });
    expect(response.statusCode).toBe(501);
    expect(response.json()).toMatchObject({ status: 501, title: "Not Implemented" });
  });
});

describe("status page and metrics", () => {
  it("serves /status to the admin token only, counting failures against the same budget", async () => {
    expect((await h.app.inject({ method: "GET", url: "/status" })).statusCode).toBe(401);
    const page = await h.app.inject({ method: "GET", url: "/status", headers: h.admin });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    for (let i = 0; i < 10; i++) {
      await h.app.inject({ method: "GET", url: "/status", headers: { authorization: "Bearer wrong" } });
    }
    const wrong = { authorization: "Bearer still-wrong" };
    expect((await h.app.inject({ method: "GET", url: "/v1/jobs", headers: wrong })).statusCode).toBe(429);
    expect((await h.app.inject({ method: "GET", url: "/v1/jobs", headers: h.admin })).statusCode).toBe(200);
  });

  it("serves /metrics without authentication", async () => {
    const response = await h.app.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain("entra_wp_sync_");
  });
});
