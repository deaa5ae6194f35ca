/**
 * DATA_DIR is the service's one writable place (the embedded database, the generated admin
 * token's file). A directory the service user cannot create or write is a setting to fix, not a
 * crash: it is reported as one ConfigError naming DATA_DIR, the path and the user (exit 78).
 */
import os from "node:os";
import { ConfigError } from "../core/errors";
import { ensurePrivateDir, writePrivateFile } from "../private-files";

/** What the file system says about a directory the operator chose, in words; null for anything else. */
const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted (the directory belongs to another user)",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "a file of that name is in the way",
  ENOSPC: "no space left on the device",
};

function dataDirError(dir: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const reason = code ? REASONS[code] : undefined;
  if (!reason) return error;
  const user = os.userInfo();
  return new ConfigError(
    `DATA_DIR (${dir}) cannot be used by user ${user.username} (uid ${user.uid}): ${reason} (${code}). Set DATA_DIR to a directory this user may create or write (the Docker image's is /data), or change the directory's owner`,
  );
}

/** Creates DATA_DIR (0700) if needed, or throws a ConfigError saying why it cannot. */
export function ensureDataDir(dir: string): void {
  try {
    ensurePrivateDir(dir);
  } catch (error) {
    throw dataDirError(dir, error);
  }
}

/** writePrivateFile for a file in DATA_DIR, with its problems reported as ensureDataDir reports them. */
export function writeDataDirFile(dir: string, file: string, content: string): void {
  try {
    writePrivateFile(file, content);
  } catch (error) {
    throw dataDirError(dir, error);
  }
}
