/** The users the service moves between the two sides, as the engine and the adapters see them. */

/** A user as Graph returns it: `id` plus the selected attributes (null when unset). */
export type GraphUser = { id: string } & Record<string, unknown>;

/** A WordPress user as the REST API returns it with context=edit. */
export interface WpUser {
  id: number;
  username: string;
  email: string;
  name: string;
  first_name: string;
  last_name: string;
  nickname: string;
  description: string;
  url: string;
  roles: string[];
  /** What the account may do: REST `capabilities` (its roles' and its own), the granted ones only. */
  capabilities: string[];
  /** Registered meta only (needs the companion plugin); {} otherwise. */
  meta: Record<string, string>;
}

/**
 * Fields to write: keys as in Job.fields (email, first_name, ..., meta.<key>). Only keys present
 * are sent. roles: the full list to set, or undefined to leave roles alone.
 */
export interface WpWrite {
  fields: Record<string, string>;
  roles?: string[];
}

/**
 * The user meta that holds the Entra object id a WordPress user was created from (registered,
 * and so readable over REST, only by the companion plugin).
 */
export const ENTRA_ID_META = "entra_object_id";
