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

/**
 * SHA-256 of a secret that is only ever compared (the admin token): what is kept instead of the
 * secret itself. No salt or slow hash needed: the tokens it guards are random, 144+ bits.
 */
export function secretDigest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}
