import Fastify from "fastify";
import type { GraphMetrics } from "../../src/graph";
import { registerProblemHandlers } from "../../src/http/problem";
import { registerMetricsRoute } from "../../src/http/routes/metrics";
import { makeMetrics } from "../../src/observe/metrics";
import type { WordPressMetrics } from "../../src/wordpress";
import { aJob, aRun } from "../helpers/builders";
import { FakeSync } from "../helpers/fake-sync";
import { withListeningApp } from "./http";
import { parseExposition, sampleValue } from "./prom-text";

const P = "entra_wp_sync_";

async function scrape(metrics = makeMetrics()) {
  const app = Fastify();
  registerProblemHandlers(app); // the route's 401 and 429 answers are problems
  registerMetricsRoute(app, metrics);
  return withListeningApp(app, async (base) => {
    const res = await fetch(`${base}/metrics`);
    const body = await res.text();
    return {
      res: { statusCode: res.status, headers: { "content-type": res.headers.get("content-type") } },
      exposition: parseExposition(body),
    };
  });
}

describe("metrics", () => {
  it("serves every instrument in the Prometheus text format, parsable line by line", async () => {
    const metrics = makeMetrics();
    metrics.recordRunFinished("staff", "completed");
    const { res, exposition } = await scrape(metrics);

    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const declared = [...exposition.types.keys()];
    for (const [name, type] of [
      ["runs_total", "counter"],
      ["users_total", "counter"],
      ["step_duration_seconds", "histogram"],
      ["graph_requests_total", "counter"],
      ["graph_request_duration_seconds", "histogram"],
      ["graph_throttle_wait_seconds_total", "counter"],
      ["wordpress_requests_total", "counter"],
      ["wordpress_request_duration_seconds", "histogram"],
      ["lease_takeovers_total", "counter"],
      ["watchdog_alarms_total", "counter"],
      ["active_runs", "gauge"],
    ]) {
      expect(exposition.types.get(P + name!)).toBe(type);
      expect(exposition.help.get(P + name!)).toBeTruthy();
    }
    expect(declared).toContain(`${P}process_cpu_user_seconds_total`);
    expect(sampleValue(exposition, `${P}runs_total`, { job: "staff", state: "completed" })).toBe(1);
  });

  it("moves the run, user, step, lease and watchdog instruments when the engine reports", async () => {
    const metrics = makeMetrics();
    metrics.recordRunFinished("staff", "failed");
    metrics.recordRunFinished("staff", "failed");
    metrics.recordItems("staff", { create: 3, unchanged: 40 });
    metrics.recordItems("staff", { created: 2, seen: 999, deleted: 0 });
    metrics.recordStep("staff", "users", 1500);
    metrics.recordStep("staff", "users", 300);
    metrics.recordLeaseTakeover("staff");
    metrics.recordWatchdog("staff");
    const { exposition } = await scrape(metrics);

    expect(sampleValue(exposition, `${P}runs_total`, { job: "staff", state: "failed" })).toBe(2);
    expect(sampleValue(exposition, `${P}users_total`, { job: "staff", action: "create" })).toBe(5);
    expect(sampleValue(exposition, `${P}users_total`, { job: "staff", action: "unchanged" })).toBe(40);
    expect(exposition.samples.filter((s) => s.name === `${P}users_total`)).toHaveLength(2);
    expect(sampleValue(exposition, `${P}step_duration_seconds_count`, { job: "staff", phase: "users" })).toBe(2);
    expect(sampleValue(exposition, `${P}step_duration_seconds_sum`, { job: "staff", phase: "users" })).toBeCloseTo(1.8);
    expect(
      sampleValue(exposition, `${P}step_duration_seconds_bucket`, { job: "staff", phase: "users", le: "0.5" }),
    ).toBe(1);
    expect(sampleValue(exposition, `${P}lease_takeovers_total`, { job: "staff" })).toBe(1);
    expect(sampleValue(exposition, `${P}watchdog_alarms_total`, { job: "staff" })).toBe(1);
  });

  it("counts Graph and WordPress requests through the hooks the clients call", async () => {
    const metrics = makeMetrics();
    // The clients' own hook types: a change on their side breaks this file's compilation.
    const graph: GraphMetrics = metrics.graphHook;
    const wordpress: WordPressMetrics = metrics.wordpressHook;
    graph.onRequest?.({ method: "GET", status: 200, code: null, ms: 120 });
    graph.onRequest?.({ method: "GET", status: 429, code: "TooManyRequests", ms: 30 });
    graph.onRequest?.({ method: "GET", status: 0, code: null, ms: 5000 });
    graph.onThrottle?.(2500);
    wordpress.onRequest({ method: "POST", status: 201, code: null, ms: 80 });
    wordpress.onRequest({ method: "POST", status: "error", code: null, ms: 10_000 });
    metrics.wordpressHook.onRequest({ method: "post", status: 400, code: "existing_user_login", ms: 40 });
    const { exposition } = await scrape(metrics);

    expect(sampleValue(exposition, `${P}graph_requests_total`, { status: "200", code: "none" })).toBe(1);
    expect(sampleValue(exposition, `${P}graph_requests_total`, { status: "429", code: "TooManyRequests" })).toBe(1);
    expect(sampleValue(exposition, `${P}graph_requests_total`, { status: "0", code: "network" })).toBe(1);
    expect(sampleValue(exposition, `${P}graph_request_duration_seconds_count`)).toBe(3);
    expect(sampleValue(exposition, `${P}graph_throttle_wait_seconds_total`)).toBe(2.5);
    expect(
      sampleValue(exposition, `${P}wordpress_requests_total`, { method: "POST", status: "201", code: "none" }),
    ).toBe(1);
    expect(
      sampleValue(exposition, `${P}wordpress_requests_total`, { method: "POST", status: "0", code: "network" }),
    ).toBe(1);
    expect(
      sampleValue(exposition, `${P}wordpress_requests_total`, {
        method: "POST",
        status: "400",
        code: "existing_user_login",
      }),
    ).toBe(1);
    expect(sampleValue(exposition, `${P}wordpress_request_duration_seconds_sum`)).toBeCloseTo(10.12);
  });

  it("labels a job's instruments with its site and tenant, WordPress's with the site and Graph's with the tenant", async () => {
    const metrics = makeMetrics({
      jobs: [aJob().withId("staff").onSite("intranet").fromTenant("corp").build(), aJob().withId("legacy").build()],
    });
    metrics.recordRunFinished("staff", "completed");
    metrics.recordRunFinished("legacy", "completed");
    metrics.recordItems("staff", { create: 2 });
    metrics.recordStep("staff", "users", 100);
    metrics.wordpressHookFor("intranet").onRequest({ method: "GET", status: 200, code: null, ms: 10 });
    metrics.wordpressHook.onRequest({ method: "GET", status: 200, code: null, ms: 10 });
    metrics.graphHookFor("corp").onRequest({ method: "GET", status: 200, code: null, ms: 10 });
    metrics.graphHookFor("corp").onThrottle(1000);
    const { exposition } = await scrape(metrics);

    const staff = { job: "staff", site: "intranet", tenant: "corp" };
    expect(sampleValue(exposition, `${P}runs_total`, { ...staff, state: "completed" })).toBe(1);
    expect(sampleValue(exposition, `${P}runs_total`, { job: "legacy", site: "default", tenant: "default" })).toBe(1);
    expect(sampleValue(exposition, `${P}users_total`, { ...staff, action: "create" })).toBe(2);
    expect(sampleValue(exposition, `${P}step_duration_seconds_count`, { ...staff, phase: "users" })).toBe(1);
    expect(sampleValue(exposition, `${P}wordpress_requests_total`, { site: "intranet", status: "200" })).toBe(1);
    expect(sampleValue(exposition, `${P}wordpress_requests_total`, { site: "default", status: "200" })).toBe(1);
    expect(sampleValue(exposition, `${P}wordpress_request_duration_seconds_count`, { site: "intranet" })).toBe(1);
    expect(sampleValue(exposition, `${P}graph_requests_total`, { tenant: "corp", status: "200" })).toBe(1);
    expect(sampleValue(exposition, `${P}graph_throttle_wait_seconds_total`, { tenant: "corp" })).toBe(1);
  });

  it("keeps labels bounded: unknown states, actions, phases and codes become other", async () => {
    const metrics = makeMetrics();
    metrics.recordItems("staff", { "user-4f1c2a": 1 });
    metrics.recordStep("staff", "run 8d1e0a6c-1234", 10);
    metrics.recordRunFinished("staff", "exploded" as never);
    metrics.graphHook.onRequest({ status: 400, code: 'bad "code" with spaces and <markup>', ms: 1 });
    metrics.wordpressHook.onRequest({ method: "BREW", status: 999, ms: 1 });
    const { exposition } = await scrape(metrics);

    expect(sampleValue(exposition, `${P}users_total`, { action: "other" })).toBe(1);
    expect(sampleValue(exposition, `${P}step_duration_seconds_count`, { phase: "other" })).toBe(1);
    expect(sampleValue(exposition, `${P}runs_total`, { state: "other" })).toBe(1);
    expect(sampleValue(exposition, `${P}graph_requests_total`, { status: "400", code: "other" })).toBe(1);
    expect(sampleValue(exposition, `${P}wordpress_requests_total`, { method: "other", status: "other" })).toBe(1);
  });

  it("reports active runs per job from the service at scrape time", async () => {
    const metrics = makeMetrics();
    const service = new FakeSync(
      [aJob().withId("staff").build(), aJob().withId("students").build()],
      [aRun().forJob("staff").withState("listing").build(), aRun().forJob("students").finished("completed").build()],
    );
    metrics.watchActiveRuns(service);
    const { exposition } = await scrape(metrics);

    expect(sampleValue(exposition, `${P}active_runs`, { job: "staff" })).toBe(1);
    expect(sampleValue(exposition, `${P}active_runs`, { job: "students" })).toBe(0);
  });

  it("gives each app its own registry, so two apps in one process never collide", async () => {
    const first = makeMetrics();
    const second = makeMetrics();
    first.recordLeaseTakeover("staff");
    const { exposition } = await scrape(second);
    expect(sampleValue(exposition, `${P}lease_takeovers_total`, { job: "staff" })).toBe(0);
  });
});
