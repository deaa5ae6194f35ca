/** Runs driven the way a scheduler drives them: over HTTP, with a job's signed start and continue links. */
import { buildApp } from "../../src/http/app";
import { makeLinks } from "../../src/links";
import type { Runtime } from "../../src/runtime";

interface LinkBody {
  started?: boolean;
  run: { state: string; lastError: string | null; counts: Record<string, number> };
}

const SETTLED = new Set(["completed", "failed", "cancelled", "awaiting_approval"]);

/** The service's real HTTP server (buildApp + listen on a free port) and the default job's links. */
export async function serveLinks(
  runtime: Runtime,
): Promise<{ start: string; continue: string; close(): Promise<void> }> {
  const app = await buildApp(runtime);
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  const links = await makeLinks(runtime, "default", { publicUrl: base });
  return { ...links, close: () => app.close() };
}

/** One run: the start link, then the continue link until the run completes. ms per continue call, and the run's counts. */
export async function runByLinks(links: {
  start: string;
  continue: string;
}): Promise<{ callMs: number[]; counts: Record<string, number> }> {
  const start = await call(links.start);
  if (!start.started) throw new Error(`start link did not start a run: ${JSON.stringify(start)}`);
  const callMs: number[] = [];
  for (;;) {
    const before = performance.now();
    const body = await call(links.continue);
    callMs.push(performance.now() - before);
    if (SETTLED.has(body.run.state)) {
      if (body.run.state !== "completed") throw new Error(`run ${body.run.state}: ${body.run.lastError}`);
      return { callMs, counts: body.run.counts };
    }
  }
}

async function call(url: string): Promise<LinkBody> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${new URL(url).pathname}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as LinkBody;
}
