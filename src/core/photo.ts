/**
 * Profile photos as avatars: which size to ask Graph for, what is accepted, and when a photo is
 * looked at again. Pure; the engine does the fetching and writing (src/sync/photos.ts).
 */
import { createHash } from "node:crypto";

/** Graph's stored sizes include 240x240 (profilephoto-get.md): sharp at WordPress's 96 px avatars on 2x screens. */
export const PHOTO_SIZE = "240x240";
/** A 240x240 JPEG is a few tens of KB; the companion plugin refuses more than this too. */
export const MAX_PHOTO_BYTES = 512 * 1024;
/**
 * Delta queries do not report photo changes, so a photo is asked for again when the user is
 * created, updated or reactivated, and otherwise once this long after the last check.
 */
export const PHOTO_RECHECK_MS = 7 * 24 * 3600 * 1000;

export type PhotoType = "image/jpeg" | "image/png";

/** The type from the bytes' signature, never from a header; null for anything else. */
export function photoType(bytes: Uint8Array): PhotoType | null {
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length > png.length && png.every((byte, i) => bytes[i] === byte)) return "image/png";
  return null;
}

/** Why a photo cannot be an avatar, or null. */
export function photoProblem(bytes: Uint8Array): string | null {
  if (bytes.length > MAX_PHOTO_BYTES) return `the photo is ${bytes.length} bytes, more than ${MAX_PHOTO_BYTES}`;
  return photoType(bytes) === null ? "the photo is neither JPEG nor PNG" : null;
}

export function photoHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Whether to ask Graph for the photo now: never checked, the user just changed, or the last check is old. */
export function photoDue(lastChecked: Date | null, userChanged: boolean, now: number): boolean {
  return lastChecked === null || userChanged || now - lastChecked.getTime() >= PHOTO_RECHECK_MS;
}
