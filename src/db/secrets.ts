/** Generated secrets shared by every replica: the first process to insert wins, the rest read it. */
import type { Queryable } from "./pool";

export async function getOrCreateSecret(
  db: Queryable,
  name: string,
  make: () => string,
): Promise<{ value: string; created: boolean }> {
  const inserted = await db.query<{ value: string }>(
    "insert into secrets (name, value) values ($1::text, $2::text) on conflict (name) do nothing returning value",
    [name, make()],
  );
  if (inserted.rows[0]) return { value: inserted.rows[0].value, created: true };
  const existing = await db.query<{ value: string }>("select value from secrets where name = $1::text", [name]);
  return { value: existing.rows[0]!.value, created: false };
}

/** The stored value, or null when no process has created it yet. */
export async function readSecret(db: Queryable, name: string): Promise<string | null> {
  const { rows } = await db.query<{ value: string }>("select value from secrets where name = $1::text", [name]);
  return rows[0]?.value ?? null;
}
