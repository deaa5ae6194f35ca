/**
 * The state lists of src/core/runs.ts as SQL literal lists, for predicates written into the
 * statements: `on conflict (job_id) where state in (...)` only finds the runs_one_active_per_job
 * index when its predicate implies the index's, which a parameter cannot. The migrations' check
 * constraints and index predicates are compared with the same lists by test/db/constraints.test.ts.
 */
import { ACTIVE_STATES, STEPPABLE_STATES, TERMINAL_STATES } from "../core/runs";

function literals(values: readonly string[]): string {
  return values
    .map((value) => {
      // Constants of core, never input; refuse anything that could need quoting all the same.
      if (!/^[a-z_]+$/.test(value)) throw new Error(`not a state name: ${JSON.stringify(value)}`);
      return `'${value}'`;
    })
    .join(", ");
}

/** queued, listing, reconciling, awaiting_approval: at most one run per job. */
export const ACTIVE_SQL = literals(ACTIVE_STATES);
/** The active states a step can take a lease in (not awaiting_approval). */
export const STEPPABLE_SQL = literals(STEPPABLE_STATES);
export const TERMINAL_SQL = literals(TERMINAL_STATES);
