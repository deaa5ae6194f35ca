/** The fingerprint of what was last written for a user: equal hashes mean nothing to write. */
import { createHash } from "node:crypto";

/**
 * sha256 hex of a canonical JSON: fields by sorted key, roles sorted. Undefined roles (mode "skip")
 * hash differently from [] (strip all roles), so switching modes is never mistaken for no change.
 */
export function hashOf(fields: Record<string, string>, roles: string[] | undefined): string {
  const sortedFields = Object.keys(fields)
    .sort()
    .map((key) => [key, fields[key]]);
  const canonical = JSON.stringify({ fields: sortedFields, roles: roles === undefined ? null : [...roles].sort() });
  return createHash("sha256").update(canonical).digest("hex");
}
