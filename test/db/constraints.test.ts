/**
 * The run states, triggers, modes, item actions and statuses are defined once, in src/core/runs.ts;
 * the migrations spell them out again in check constraints and index predicates (SQL cannot
 * import TypeScript). This reads them back from a migrated database, so a state added on one side
 * only fails here instead of at the first run that reaches it.
 */
import {
  ACTIVE_STATES,
  ITEM_ACTIONS,
  ITEM_STATUSES,
  RUN_MODES,
  RUN_STATES,
  RUN_TRIGGERS,
  STEPPABLE_STATES,
  TERMINAL_STATES,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_STATES,
} from "../../src/core/runs";
import type { Database } from "../../src/db/pool";
import { ACTIVE_SQL, STEPPABLE_SQL, TERMINAL_SQL } from "../../src/db/states";
import { makeTestDatabase } from "../helpers/db";

/** The quoted values of a constraint or index definition: `... ARRAY['a'::text, 'b'::text] ...` -> [a, b]. */
function valuesIn(definition: string): string[] {
  return [...definition.matchAll(/'([^']*)'/g)].map((match) => match[1]!).sort();
}

const sorted = (values: readonly string[]) => [...values].sort();

describe("the schema's lists of states and actions", () => {
  let db: Database;
  beforeAll(async () => {
    db = await makeTestDatabase();
  });
  afterAll(() => db.close());

  async function checkConstraints(): Promise<Map<string, string>> {
    const { rows } = await db.pool.query<{ name: string; definition: string }>(
      `select conrelid::regclass::text || '.' || conname as name, pg_get_constraintdef(oid) as definition
       from pg_constraint where contype = 'c' and connamespace = 'public'::regnamespace`,
    );
    return new Map(rows.map((row) => [row.name, row.definition]));
  }

  async function indexPredicate(name: string): Promise<string> {
    const { rows } = await db.pool.query<{ definition: string }>(
      "select pg_get_expr(indpred, indrelid) as definition from pg_index where indexrelid = $1::text::regclass",
      [name],
    );
    return rows[0]!.definition;
  }

  it.each([
    ["runs.runs_state_check", RUN_STATES],
    ["runs.runs_trigger_check", RUN_TRIGGERS],
    ["runs.runs_mode_check", RUN_MODES],
    ["run_items.run_items_action_check", ITEM_ACTIONS],
    ["run_items.run_items_status_check", ITEM_STATUSES],
    ["webhook_outbox.webhook_outbox_type_check", WEBHOOK_EVENT_TYPES],
  ])("%s allows exactly the TypeScript list", async (name, list) => {
    const definition = (await checkConstraints()).get(name);
    expect(definition).toBeDefined();
    expect(valuesIn(definition!)).toEqual(sorted(list));
  });

  it("has no check constraint on a list of states or actions that this test does not compare", async () => {
    const compared = new Set([
      "runs.runs_state_check",
      "runs.runs_trigger_check",
      "runs.runs_mode_check",
      "run_items.run_items_action_check",
      "run_items.run_items_status_check",
      "webhook_outbox.webhook_outbox_type_check",
    ]);
    // The engine's own bookkeeping, not domain vocabulary: listing phase, item phase, map state.
    const internal = new Set([
      "runs.runs_phase_check",
      "run_items.run_items_phase_check",
      "user_map.user_map_state_check",
    ]);
    const unlisted = [...(await checkConstraints()).keys()].filter(
      (name) => !compared.has(name) && !internal.has(name),
    );
    expect(unlisted).toEqual([]);
  });

  it("keeps the index predicates equal to the active and steppable states", async () => {
    expect(valuesIn(await indexPredicate("runs_one_active_per_job"))).toEqual(sorted(ACTIVE_STATES));
    expect(valuesIn(await indexPredicate("runs_active"))).toEqual(sorted(STEPPABLE_STATES));
  });

  it("writes webhook events for exactly the webhook states (the outbox trigger's predicate)", async () => {
    const { rows } = await db.pool.query<{ definition: string }>(
      "select pg_get_functiondef('webhook_outbox_enqueue'::regproc) as definition",
    );
    const predicate = /new\.state in \(([^)]*)\)/i.exec(rows[0]!.definition);
    expect(predicate).not.toBeNull();
    expect(valuesIn(predicate![1]!)).toEqual(sorted(WEBHOOK_STATES));
  });

  it("writes the same lists into the engine's SQL predicates", () => {
    expect(valuesIn(ACTIVE_SQL)).toEqual(sorted(ACTIVE_STATES));
    expect(valuesIn(STEPPABLE_SQL)).toEqual(sorted(STEPPABLE_STATES));
    expect(valuesIn(TERMINAL_SQL)).toEqual(sorted(TERMINAL_STATES));
  });

  it("refuses an item action outside the list", async () => {
    await db.pool.query("insert into jobs (id, config) values ('constraints', '{}'::jsonb)");
    const [run] = (
      await db.pool.query<{ id: string }>(
        "insert into runs (job_id, trigger) values ('constraints', 'manual') returning id",
      )
    ).rows;
    await expect(
      db.pool.query(
        "insert into run_items (run_id, entra_id, action, status) values ($1::uuid, 'x', 'fail', 'failed')",
        [run!.id],
      ),
    ).rejects.toThrow(/run_items_action_check/);
  });
});
