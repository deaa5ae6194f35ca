/**
 * Coalesces single user writes into POST /entra-wp-sync/v1/users/batch requests (companion plugin):
 * the engine keeps calling createUser/updateUser one user at a time, and the writes that are waiting
 * at the same moment travel in one request, one WordPress bootstrap and one database commit.
 */

/**
 * What an update or reactivation expects of the user (core/plan.ts Assumption, in REST names): the
 * plugin writes only while it holds, else answers "changed".
 */
export interface BatchExpect {
  fields: Record<string, unknown>;
  roles?: string[];
  roles_none?: string[];
}

/**
 * `guard` (every operation but create): the roles whose capabilities the user may hold; the plugin
 * refuses the operation (403 entra_wp_sync_protected) when the user holds an elevated one beyond them.
 */
export type BatchOp =
  | { op: "create"; body: Record<string, unknown> }
  | { op: "update" | "reactivate"; id: number; body: Record<string, unknown>; expect?: BatchExpect; guard?: string[] }
  | { op: "deactivate"; id: number; guard?: string[] }
  | { op: "delete"; id: number; reassign: number; guard?: string[] };

/** One operation's result as the plugin reports it. */
export interface BatchResult {
  status: number;
  outcome: "created" | "updated" | "existing" | "deleted" | "changed" | "failed";
  user?: unknown;
  /** With `expect`: the user before the operation (null when there is none). */
  before?: unknown;
  code?: string;
  message?: string;
}

export interface BatchAnswer {
  result: BatchResult;
  /** The request was sent again after an attempt whose outcome is unknown (see client.ts). */
  afterAmbiguousFailure: boolean;
}

export type SendBatch = (ops: BatchOp[]) => Promise<{ results: BatchResult[]; afterAmbiguousFailure: boolean }>;

/**
 * `send`, reporting each operation's answer as the request it stands for would have been counted
 * (a create or update as POST, a delete as DELETE), so that per-user WordPress codes stay visible
 * in the metrics whichever way the writes travel.
 */
export function reportingOperations(
  send: SendBatch,
  onOperation: ((event: { method: string; status: number; code: string | null }) => void) | undefined,
): SendBatch {
  if (!onOperation) return send;
  return async (ops) => {
    const answer = await send(ops);
    answer.results.forEach((result, i) => {
      const op = ops[i];
      if (!op || typeof result?.status !== "number") return;
      const failed = result.outcome === "failed" || result.outcome === "changed";
      onOperation({
        method: op.op === "delete" ? "DELETE" : "POST",
        status: result.status,
        code: failed ? (result.code ?? "unknown") : null,
      });
    });
    return answer;
  };
}

interface Waiting {
  op: BatchOp;
  resolve: (answer: BatchAnswer) => void;
  reject: (error: unknown) => void;
}

/**
 * At most `inFlight` requests at once: writes that arrive meanwhile wait and leave together when a
 * request returns (or as soon as `max` are waiting), so batches grow with the load instead of a timer.
 */
export function makeBatcher(
  send: SendBatch,
  options: { max: number; inFlight: number },
): (op: BatchOp) => Promise<BatchAnswer> {
  let waiting: Waiting[] = [];
  let running = 0;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (waiting.length > 0 && running < options.inFlight) {
      const batch = waiting.slice(0, options.max);
      waiting = waiting.slice(batch.length);
      running++;
      send(batch.map((w) => w.op))
        .then(
          ({ results, afterAmbiguousFailure }) => {
            const mismatch = new Error(
              `WordPress batch answered ${results.length} results for ${batch.length} operations`,
            );
            // More results than operations: no position can be trusted, so none is taken.
            if (results.length > batch.length) {
              for (const w of batch) w.reject(mismatch);
              return;
            }
            batch.forEach((w, i) => {
              const result = results[i];
              if (result) w.resolve({ result, afterAmbiguousFailure });
              else w.reject(mismatch);
            });
          },
          (error: unknown) => {
            for (const w of batch) w.reject(error);
          },
        )
        .finally(() => {
          running--;
          flush();
        });
    }
  }

  return (op) =>
    new Promise<BatchAnswer>((resolve, reject) => {
      waiting.push({ op, resolve, reject });
      if (waiting.length >= options.max) flush();
      else if (!scheduled) {
        // Let the other writes of this turn of the event loop join the batch.
        scheduled = true;
        setImmediate(flush);
      }
    });
}
