/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec.md "Signature scheme"):
 * the secret is "whsec_" + base64 of 24 to 64 random bytes; the signed content is
 * "<webhook-id>.<webhook-timestamp>.<body>"; webhook-signature is "v1,<base64 HMAC-SHA256>".
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const PREFIX = "whsec_";

/** The key bytes of a "whsec_..." secret, or null when it is not one (length 24-64 bytes, as the spec says). */
export function webhookKey(secret: string): Buffer | null {
  if (!secret.startsWith(PREFIX)) return null;
  const b64 = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  const key = Buffer.from(b64, "base64");
  return key.length >= 24 && key.length <= 64 ? key : null;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = webhookKey(secret);
  if (!key) throw new Error("not a whsec_ webhook secret");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** What a receiver does (docs/operations.md "Webhooks"); here for tests. Signatures are space-separated; any v1 may match. */
export function verifyWebhook(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  now = Date.now(),
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, headers.id, timestamp, body));
  return headers.signature
    .split(" ")
    .some((candidate) => candidate.length === expected.length && timingSafeEqual(Buffer.from(candidate), expected));
}
