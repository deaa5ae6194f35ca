/**
 * What a test file leaves behind (its cloned database, temporary directories): removed when the
 * file passed, kept for inspection when a test failed (see ./environment.ts).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type Leftover = { kind: "database"; name: string } | { kind: "dir"; path: string };

export function keepIfFailed(leftover: Leftover): void {
  const register = (globalThis as { __keepIfFailed?: (l: Leftover) => void }).__keepIfFailed;
  register?.(leftover);
}

/** A fresh directory under the system's temporary directory, removed with the file's other leftovers. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  keepIfFailed({ kind: "dir", path: dir });
  return dir;
}
