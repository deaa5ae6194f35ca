/**
 * The checkout's ./data is where `npm start` keeps its embedded database: a test run must never
 * write there (a developer's trial data would be mixed with test rows, or locked by PGlite).
 * global-setup takes a fingerprint of it and global-teardown fails the run if it changed.
 */
import fs from "node:fs";
import path from "node:path";

export const CHECKOUT_DATA_DIR = path.resolve(__dirname, "../../data");

/** Every path under dir with its size and mtime; "absent" when there is no such directory. */
export function fingerprint(dir = CHECKOUT_DATA_DIR): string {
  if (!fs.existsSync(dir)) return "absent";
  const entries: string[] = [];
  const walk = (at: string): void => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      const stat = fs.statSync(full);
      entries.push(`${path.relative(dir, full)}:${stat.size}:${stat.mtimeMs}`);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return entries.sort().join("\n");
}
