/**
 * The deadline in force for outbound calls: a step runs its work inside `withDeadline(step's
 * deadline, ...)`, and every HTTP client (Graph, WordPress) shortens its per-attempt timeout to
 * what is left and starts no retry wait that would end past it. Carried by AsyncLocalStorage
 * rather than a parameter on every port method: the deadline belongs to the call chain (like a
 * Go context), and the ports stay what the engine asks for.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const current = new AsyncLocalStorage<number>();

/** The deadline raised when there is no time left for another attempt or wait. */
export class DeadlineExceeded extends Error {
  override name = "DeadlineExceeded";
}

/** Runs fn with `deadline` (epoch ms) in force for every outbound call it makes, awaited or not. */
export function withDeadline<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  return current.run(deadline, fn);
}

/** Runs fn with no deadline in force: work that outlives the step that started it (a run's match index). */
export function withoutDeadline<T>(fn: () => Promise<T>): Promise<T> {
  return current.exit(fn);
}

/** Epoch ms, or null outside a step. */
export function currentDeadline(): number | null {
  return current.getStore() ?? null;
}

/** Milliseconds left before the deadline in force, or Infinity when none is. */
export function timeLeft(deadline = currentDeadline()): number {
  return deadline === null ? Number.POSITIVE_INFINITY : deadline - Date.now();
}

/**
 * The timeout for one attempt: its own limit, shortened to what is left of the deadline in force.
 * Throws DeadlineExceeded when nothing is left (the attempt is not started).
 */
export function attemptTimeout(limitMs: number, deadline = currentDeadline()): number {
  const left = timeLeft(deadline);
  if (left <= 0) throw new DeadlineExceeded("the step's time budget is spent");
  return Math.min(limitMs, Math.ceil(left));
}

/**
 * Resolves like `promise`, or rejects with DeadlineExceeded when the deadline in force comes
 * first; the promise itself goes on (a shared build the next step awaits again).
 */
export function untilDeadline<T>(promise: Promise<T>, deadline = currentDeadline()): Promise<T> {
  if (deadline === null) return promise;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineExceeded("the step's time budget was spent waiting")),
      Math.max(0, deadline - Date.now()),
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
