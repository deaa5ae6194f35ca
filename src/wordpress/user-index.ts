import type { Site, WpUser } from "../sync/ports";
import { ENTRA_ID_META } from "./users";

/** Exact, case-insensitive lookups over every WordPress user, built once per matching pass. */
export interface UserIndex {
  readonly size: number;
  byEmail(email: string): WpUser | null;
  byLogin(login: string): WpUser | null;
  /** Empty without the companion plugin (WordPress does not expose entra_object_id then). */
  byEntraId(entraId: string): WpUser | null;
}

/** Pages fetched ahead of the one being indexed; the site's limiter still bounds requests in flight. */
const PAGES_AHEAD = 4;

/**
 * Pages through listUsers once. The users are kept as parsed (listUsers asks WordPress for the
 * WpUser fields only) and the three maps hold lower-cased keys -> row numbers. Measured with
 * 100,000 users (Node 20): 63 MB of heap; keeping each user as a JSON string instead took 80 MB.
 * Lookups return the indexed object itself: callers must not mutate it.
 */
export async function buildUserIndex(site: Site): Promise<UserIndex> {
  const rows: WpUser[] = [];
  const email = new Map<string, number>();
  const login = new Map<string, number>();
  const entraId = new Map<string, number>();

  const add = (users: WpUser[]): void => {
    for (const u of users) {
      const row = rows.push(u) - 1;
      // First one wins on duplicates (logins and e-mails are unique in WordPress; entra ids should be).
      if (u.email && !email.has(u.email.toLowerCase())) email.set(u.email.toLowerCase(), row);
      if (u.username && !login.has(u.username.toLowerCase())) login.set(u.username.toLowerCase(), row);
      const id = u.meta[ENTRA_ID_META];
      if (id && !entraId.has(id.toLowerCase())) entraId.set(id.toLowerCase(), row);
    }
  };

  const first = await site.listUsers(1);
  add(first.users);
  // Later pages are requested a few at a time and indexed in page order.
  const pending: Array<Promise<{ users: WpUser[] }>> = [];
  let next = 2;
  const fill = (): void => {
    while (next <= first.totalPages && pending.length < PAGES_AHEAD) pending.push(site.listUsers(next++));
  };
  fill();
  while (pending.length > 0) {
    const page = await pending.shift()!;
    add(page.users);
    fill();
  }

  const lookup = (map: Map<string, number>, key: string): WpUser | null => {
    const row = map.get(key.toLowerCase());
    return row === undefined ? null : (rows[row] ?? null);
  };
  return {
    size: rows.length,
    byEmail: (key) => lookup(email, key),
    byLogin: (key) => lookup(login, key),
    byEntraId: (key) => lookup(entraId, key),
  };
}
