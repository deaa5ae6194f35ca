/**
 * One plan of user writes and a way to read back what it left, for tests that compare two write
 * paths (plugin batch, core batch, per-user REST) on a real WordPress.
 */
import type { WpWrite } from "../../src/core/users";
import type { Site } from "../../src/sync/ports";
import { makeTestSite, uniqueName, type WordPressTarget, wpFetch } from "./wordpress";

export function aPerson(login: string, n: number, roles = ["subscriber"]): WpWrite {
  return {
    fields: {
      email: `${login}@example.test`,
      first_name: `First ${n}`,
      last_name: `Last ${n}`,
      name: `First ${n} Last ${n}`,
      nickname: `nick-${n}`,
      description: `About ${n}`,
      url: `https://example.test/${n}`,
      "meta.department": `Dept ${n}`,
      "meta.job_title": `Title ${n}`,
    },
    roles,
  };
}

/**
 * One plan, applied through `site`: creates, updates (fields and roles), a deactivation, a
 * reactivation and a deletion, with the engine's concurrency (all writes of a step at once).
 */
export async function applyPlan(site: Site, prefix: string, selfId: number): Promise<Map<string, number>> {
  const logins = Array.from({ length: 6 }, (_, n) => `${prefix}-${n}`);
  const created = await Promise.all(
    logins.map((login, n) => site.createUser(login, aPerson(login, n), `${login}-entra`)),
  );
  const ids = new Map(logins.map((login, n) => [login, created[n]!.id]));
  const id = (n: number): number => ids.get(logins[n]!)!;
  await Promise.all([
    site.updateUser(id(0), { fields: { first_name: "Changed", "meta.department": "Moved" } }),
    site.updateUser(id(1), { fields: { email: `${logins[1]}-new@example.test` }, roles: ["editor"] }),
    site.deactivateUser(id(2)),
    site.deactivateUser(id(3)),
    site.deleteUser(id(5), selfId),
  ]);
  await site.reactivateUser(id(3), { fields: { last_name: "Back" }, roles: ["author"] });
  return ids;
}

/** Everything WordPress holds for a user, with the run's own prefix taken out so two runs compare. */
export async function stateOf(wp: WordPressTarget, id: number, prefix: string): Promise<unknown> {
  const res = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
  if (res.status === 404) return "absent";
  const { id: _id, link: _link, avatar_urls: _avatars, registered_date: _date, _links, ...rest } = res.body;
  return JSON.parse(JSON.stringify(rest).replaceAll(prefix, "PREFIX"));
}

/**
 * The plan through `batched` and through the per-user path (bulk: false) of the same WordPress,
 * each on its own users: what each left for plan user n (states[n]), and every id, to clean up.
 */
export async function applyPlanBothWays(
  wp: WordPressTarget,
  batched: Site,
  selfId: number,
): Promise<{ states: Array<{ batched: unknown; perUser: unknown }>; ids: number[] }> {
  const a = uniqueName("same-a");
  const b = uniqueName("same-b");
  const viaBatch = await applyPlan(batched, a, selfId);
  const viaRest = await applyPlan(makeTestSite(wp, { bulk: false }), b, selfId);
  const states = [];
  for (let n = 0; n < viaBatch.size; n++) {
    states.push({
      batched: await stateOf(wp, viaBatch.get(`${a}-${n}`)!, a),
      perUser: await stateOf(wp, viaRest.get(`${b}-${n}`)!, b),
    });
  }
  return { states, ids: [...viaBatch.values(), ...viaRest.values()] };
}
