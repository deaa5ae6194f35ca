/**
 * The match index of a run, built through the Site port: every WordPress user's id, login,
 * e-mail and Entra id, for exact lookups without a request per user.
 */
import { ENTRA_ID_META, type WpUser } from "../core/users";
import type { Site } from "./ports";

/** What matching needs of a WordPress user; the rest is read with getUser when one matches. */
export interface IndexedUser {
  id: number;
  username: string;
  email: string;
}

/** Exact, case-insensitive lookups over every WordPress user, kept for a whole run. */
export interface UserIndex {
  readonly size: number;
  byEmail(email: string): IndexedUser | null;
  byLogin(login: string): IndexedUser | null;
  /** Empty without the companion plugin (WordPress does not expose entra_object_id then). */
  byEntraId(entraId: string): IndexedUser | null;
  /** Users the run created, so later steps see their logins and e-mails as taken. */
  add(user: WpUser): void;
}

/** Pages fetched ahead of the one being indexed; the site's limiter still bounds requests in flight. */
const PAGES_AHEAD = 4;

/**
 * Pages through listUsers once and keeps only id, login, e-mail and Entra id per user (lower-cased
 * keys -> row): the index lives as long as a run, and a run into a site of 100,000 users must
 * stay well inside the service's memory budget (whole users took 63 MB of heap at 100,000).
 */
export async function buildUserIndex(site: Site): Promise<UserIndex> {
  const index = makeUserIndex();
  const first = await site.listUsers(1);
  for (const u of first.users) index.add(u);
  // Later pages are requested a few at a time and indexed in page order.
  const pending: Array<Promise<{ users: WpUser[] }>> = [];
  let next = 2;
  const fill = (): void => {
    while (next <= first.totalPages && pending.length < PAGES_AHEAD) pending.push(site.listUsers(next++));
  };
  fill();
  while (pending.length > 0) {
    const page = await pending.shift()!;
    for (const u of page.users) index.add(u);
    fill();
  }
  return index;
}

/** An index of just these users (provisioning one user indexes the few its lookups found). */
export function makeUserIndex(users: Iterable<WpUser> = []): UserIndex {
  const rows: IndexedUser[] = [];
  const email = new Map<string, number>();
  const login = new Map<string, number>();
  const entraId = new Map<string, number>();

  const add = (u: WpUser): void => {
    const row = rows.push({ id: u.id, username: u.username, email: u.email }) - 1;
    // First one wins on duplicates (logins and e-mails are unique in WordPress; entra ids should be).
    if (u.email && !email.has(u.email.toLowerCase())) email.set(u.email.toLowerCase(), row);
    if (u.username && !login.has(u.username.toLowerCase())) login.set(u.username.toLowerCase(), row);
    const id = u.meta[ENTRA_ID_META];
    if (id && !entraId.has(id.toLowerCase())) entraId.set(id.toLowerCase(), row);
  };

  for (const u of users) add(u);

  const lookup = (map: Map<string, number>, key: string): IndexedUser | null => {
    const row = map.get(key.toLowerCase());
    return row === undefined ? null : (rows[row] ?? null);
  };
  return {
    get size() {
      return rows.length;
    },
    byEmail: (key) => lookup(email, key),
    byLogin: (key) => lookup(login, key),
    byEntraId: (key) => lookup(entraId, key),
    add,
  };
}
