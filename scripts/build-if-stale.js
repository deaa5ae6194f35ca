#!/usr/bin/env node
/**
 * Builds dist/ only when a source is newer than the last successful build, so a restart (a
 * supervisor's, an operator's) does not spend ~12 s recompiling unchanged TypeScript. The stamp
 * dist/.build-stamp is written only after a build succeeds: a failed build is retried next time,
 * and deleting dist/ forces one. Plain JavaScript because it runs before anything is compiled.
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

// npm runs scripts in the package root.
const root = process.cwd();
const stamp = path.join(root, "dist", ".build-stamp");
// What tsconfig.build.json compiles, plus what changes how it is compiled.
const SOURCE_DIRS = ["src", "tools", "bench"];

/** The newest file under `entry` (a file or a directory), as [mtimeMs, path]; [0, ""] when absent. */
function newest(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return [0, ""];
  }
  if (!stat.isDirectory()) return [stat.mtimeMs, entry];
  let best = [0, ""];
  for (const name of fs.readdirSync(entry)) {
    const found = newest(path.join(entry, name));
    if (found[0] > best[0]) best = found;
  }
  return best;
}

function staleBecause() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return "no build yet";
  }
  const configs = fs.readdirSync(root).filter((name) => /^tsconfig.*\.json$/.test(name) || name === "package.json");
  for (const entry of [...SOURCE_DIRS, ...configs]) {
    const [mtime, file] = newest(path.join(root, entry));
    if (mtime > built) return `${path.relative(root, file)} is newer than the build`;
  }
  return null;
}

const reason = staleBecause();
if (reason) {
  process.stderr.write(`entra-wp-sync: building dist/ (${reason})\n`);
  // Through the npm that runs us (npm_execpath), so the project's build script decides how.
  const npm = process.env.npm_execpath;
  const result = npm
    ? spawnSync(process.execPath, [npm, "run", "build", "--silent"], { cwd: root, stdio: "inherit" })
    : spawnSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit", shell: true });
  if (result.status !== 0) process.exit(result.status ?? 1);
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
