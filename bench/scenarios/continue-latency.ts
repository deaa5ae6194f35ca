/**
 * Row "continue latency": the real HTTP server (buildApp + listen) called the way a scheduler
 * calls it, with a signed start link and then the continue link until the run settles. One first
 * sync into the bench WordPress (each call creates a page of 500 users), then re-syncs of the
 * same, unchanged users (each call lists and checks a page).
 */
import { buildApp } from "../../src/http/app";
import { makeLinks } from "../../src/links";
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { openBenchService } from "../lib/service";
import { type BenchWordPress, makeCountingSite } from "../lib/wordpress";

export interface ContinueResult {
  users: number;
  /** ms per continue call of the first sync (creates). */
  creating: number[];
  /** ms per continue call of the re-syncs (unchanged users). */
  unchanged: number[];
}

const SETTLED = new Set(["completed", "failed", "cancelled", "awaiting_approval"]);

export async function benchContinueLatency(
  wp: BenchWordPress,
  users: number,
  resyncs: number,
): Promise<ContinueResult> {
  const sim = await startGraphSimulator({ tenant: makeTenant({ users, seed: 12, domain: "continue.example" }) });
  const counting = makeCountingSite(wp, 4);
  // Many calls a minute from one address: lift the per-IP link rate limit for the bench.
  const runtime = await openBenchService({
    name: "continue",
    sim,
    site: counting.site,
    env: { RATE_LIMIT_MAX: "100000" },
  });
  const app = await buildApp(runtime);
  try {
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    const links = await makeLinks(runtime, "default", { publicUrl: base });
    const result: ContinueResult = { users, creating: [], unchanged: [] };
    for (let i = 0; i <= resyncs; i++) {
      const samples = i === 0 ? result.creating : result.unchanged;
      const start = await call(links.start);
      if (!start.started) throw new Error(`start link did not start a run: ${JSON.stringify(start)}`);
      for (;;) {
        const before = performance.now();
        const body = await call(links.continue);
        samples.push(performance.now() - before);
        if (SETTLED.has(body.run.state)) {
          if (body.run.state !== "completed") throw new Error(`run ${body.run.state}: ${body.run.lastError}`);
          break;
        }
      }
    }
    return result;
  } finally {
    await app.close();
    await runtime.close();
    await sim.close();
  }
}

interface LinkBody {
  started?: boolean;
  run: { state: string; lastError: string | null };
}

async function call(url: string): Promise<LinkBody> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${new URL(url).pathname}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as LinkBody;
}
