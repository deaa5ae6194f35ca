/**
 * Files only the service user may read: DATA_DIR (the embedded database, the generated admin
 * token) is 0700 and the token file 0600, whatever the umask.
 */
import fs from "node:fs";
import path from "node:path";

/** Creates dir (and its parents) if needed and makes dir itself 0700. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory as it was, and the umask may have widened a new one.
  fs.chmodSync(dir, 0o700);
}

/**
 * Writes a 0600 file in a 0700 directory. An old file is removed first and the new one created
 * exclusively, so an existing file's wider mode, or a symlink planted in its place, is not reused.
 */
export function writePrivateFile(file: string, content: string): void {
  ensurePrivateDir(path.dirname(file));
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, content, { mode: 0o600, flag: "wx" });
}
