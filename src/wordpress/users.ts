import { isDeepStrictEqual } from "node:util";
import type { Assumption } from "../core/plan";
import type { WpUser, WpWrite } from "../core/users";

/**
 * Only what WpUser needs: list pages shrink from ~91 KB to a fraction (avatars, links dropped).
 * capabilities stay: adoption is judged by them (a subscriber's are 3 keys, an administrator's ~60).
 */
export const USER_FIELDS =
  "id,username,email,name,first_name,last_name,nickname,description,url,roles,capabilities,meta";

/** WpWrite field keys that map 1:1 to REST user properties (`name` is the display name). */
const PLAIN_FIELDS = new Set(["email", "first_name", "last_name", "name", "nickname", "description", "url"]);

export const DEACTIVATED_META = "entra_wp_sync_deactivated";

/** A REST user (context=edit) as WpUser. Meta keeps string values only (core adds `persisted_preferences`: []). */
export function toWpUser(json: unknown): WpUser {
  const o = (json ?? {}) as Record<string, unknown>;
  const str = (k: string): string => (typeof o[k] === "string" ? (o[k] as string) : "");
  const caps = o.capabilities;
  const meta: Record<string, string> = {};
  if (o.meta && typeof o.meta === "object" && !Array.isArray(o.meta)) {
    for (const [k, v] of Object.entries(o.meta)) if (typeof v === "string") meta[k] = v;
  }
  return {
    id: typeof o.id === "number" ? o.id : Number(o.id),
    username: str("username"),
    email: str("email"),
    name: str("name"),
    first_name: str("first_name"),
    last_name: str("last_name"),
    nickname: str("nickname"),
    description: str("description"),
    url: str("url"),
    roles: Array.isArray(o.roles) ? o.roles.filter((r): r is string => typeof r === "string") : [],
    // { cap: true|false }: a capability denied to this one user is listed as false.
    capabilities: isRecord(caps) ? Object.keys(caps).filter((cap) => caps[cap] === true) : [],
    meta,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface RestBody {
  body: Record<string, unknown>;
  /** Keys the body could not carry (meta.<key> WordPress does not accept, unknown names), for a warning. */
  dropped: string[];
}

/**
 * WpWrite -> REST body with only the given keys. meta.<key> goes in only when WordPress accepts
 * that key over REST (registered with show_in_rest, by the companion plugin or anyone else):
 * WordPress silently drops the others. extraMeta (the service's own keys) follows the same rule.
 */
export function toRestBody(
  write: WpWrite,
  acceptedMeta: ReadonlySet<string>,
  extraMeta: Record<string, string> = {},
): RestBody {
  const body: Record<string, unknown> = {};
  const meta: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(write.fields)) {
    if (PLAIN_FIELDS.has(key)) body[key] = value;
    else if (key.startsWith("meta.") && acceptedMeta.has(key.slice(5))) meta[key.slice(5)] = value;
    else dropped.push(key);
  }
  for (const [key, value] of Object.entries(extraMeta)) if (acceptedMeta.has(key)) meta[key] = value;
  if (Object.keys(meta).length > 0) body.meta = meta;
  if (write.roles !== undefined) body.roles = write.roles;
  return { body, dropped };
}

/**
 * The user meta keys WordPress accepts over REST, from the users route's schema (OPTIONS
 * /wp/v2/users: schema.properties.meta.properties). Only string-typed keys: the service writes text.
 */
export function acceptedMetaKeys(options: unknown): Set<string> {
  const meta = (options as { schema?: { properties?: { meta?: { properties?: unknown } } } } | null)?.schema?.properties
    ?.meta?.properties;
  const keys = new Set<string>();
  if (meta && typeof meta === "object") {
    for (const [key, schema] of Object.entries(meta)) {
      const type = (schema as { type?: unknown } | null)?.type;
      if (type === "string" || (Array.isArray(type) && type.includes("string"))) keys.add(key);
    }
  }
  return keys;
}

/**
 * Whether `user` (as read over REST) holds what a plan made without a read assumed of it
 * (core/plan.ts assumedCurrent): each field exactly (meta.<key>: that meta value), and the roles
 * exactly as listed, order included, or none of `noneOf`. The companion plugin's
 * entra_wp_sync_batch_holds, for the paths where WordPress cannot compare (src/wordpress/site.ts
 * updateCheckedByRead); strict like it: any difference means "plan again from this user".
 */
export function holdsAssumption(user: WpUser, assumption: Pick<Assumption, "fields" | "roles">): boolean {
  for (const [key, value] of Object.entries(assumption.fields)) {
    const current = key.startsWith("meta.")
      ? user.meta[key.slice(5)]
      : (user as unknown as Record<string, unknown>)[key];
    if (current !== value) return false;
  }
  const { roles } = assumption;
  if ("exactly" in roles) return isDeepStrictEqual(user.roles, roles.exactly);
  return !user.roles.some((role) => roles.noneOf.includes(role));
}
