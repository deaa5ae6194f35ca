/**
 * One step of a run, with the lease already held: dispatch by state and phase, and turn what went
 * wrong into the run's next state (DESIGN.md "Run state machine"; src/core/errors.ts for the kinds).
 */
import { coerceError, UpstreamError } from "../core/errors";
import { setDeltaLink } from "../db/jobs";
import { withTransaction } from "../db/pool";
import { findRun, type Run, recordStepFailure, updateLeased } from "../db/runs";
import { withDeadline } from "../net/deadline";
import { listGroupsStep, listUsersStep } from "./listing";
import { reconcileStep } from "./reconcile";
import { LeaseLostError, type StepContext, type StepOutcome, startCursor } from "./step-context";

/** Runs one step; every Graph and WordPress request it makes ends by the step's deadline (src/net/deadline.ts). */
export function runStep(ctx: StepContext): Promise<StepOutcome> {
  return withDeadline(ctx.budget.deadline, () => stepInState(ctx));
}

async function stepInState(ctx: StepContext): Promise<StepOutcome> {
  try {
    if (ctx.run.state === "listing") {
      return ctx.run.phase === "groups" ? await listGroupsStep(ctx) : await listUsersStep(ctx);
    }
    return await reconcileStep(ctx);
  } catch (error) {
    return handleStepError(ctx, coerceError(error));
  }
}

async function handleStepError(ctx: StepContext, error: Error): Promise<StepOutcome> {
  const { run, owner, log } = ctx;
  const pool = ctx.deps.db.pool;
  const current = async (): Promise<Run> => (await findRun(pool, run.id)) ?? run;

  if (error instanceof LeaseLostError) {
    log.warn(error.message);
    return { advanced: false, reason: "lease lost", run: await current() };
  }
  const kind = error instanceof UpstreamError ? error.kind : null;
  const lost = (updated: Run | null): Run => {
    if (!updated) throw new LeaseLostError(run.id);
    return updated;
  };
  try {
    if (kind === "auth" || kind === "config") {
      log.error({ err: error }, "run failed: going on is pointless until the configuration is fixed");
      const failed = lost(
        await updateLeased(pool, run.id, owner, {
          state: "failed",
          lastError: error.message,
          finished: true,
          progressed: true,
          release: true,
        }),
      );
      return { advanced: true, reason: "failed", run: failed };
    }
    if (kind === "delta-expired") {
      log.warn({ err: error }, "delta token expired: listing in full");
      const switched = await withTransaction(pool, async (client) => {
        const updated = lost(
          await updateLeased(client, run.id, owner, {
            mode: "full",
            phase: run.phase === "groups" ? "groups" : "users",
            cursor: run.phase === "groups" ? run.cursor : null,
            pageDone: 0,
            newDeltaLink: null,
            lastError: error.message,
            progressed: true,
            release: true,
          }),
        );
        await setDeltaLink(client, ctx.job.id, null);
        return updated;
      });
      return { advanced: true, reason: "delta expired; listing in full", run: switched };
    }
    if (kind === "page-expired") {
      log.warn({ err: error }, "page token expired: restarting the listing from its first page");
      const restart = run.phase === "groups" ? null : await startCursor(ctx);
      const restarted = lost(
        await updateLeased(pool, run.id, owner, {
          cursor: restart,
          pageDone: 0,
          lastError: error.message,
          progressed: true,
          release: true,
        }),
      );
      return { advanced: true, reason: "page token expired; listing restarted", run: restarted };
    }
    // transient, throttled (retries exhausted), or anything unexpected: try again next step.
    log.warn({ err: error }, "step failed; the run stays where it was");
    const failed = lost(await recordStepFailure(pool, run.id, owner, error.message, ctx.deps.maxFailedSteps));
    if (failed.state === "failed") return { advanced: true, reason: "failed", run: failed };
    return { advanced: false, reason: "upstream error; will retry", run: failed };
  } catch (inner) {
    if (inner instanceof LeaseLostError) {
      log.warn(inner.message);
      return { advanced: false, reason: "lease lost", run: await current() };
    }
    throw inner;
  }
}
