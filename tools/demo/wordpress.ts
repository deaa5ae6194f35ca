/**
 * Which WordPress the demo writes to: the one named by WP_URL/WP_USERNAME/WP_APP_PASSWORD; else
 * the project's scripts/wordpress-local.sh on its own port and directory (reset every time) when
 * this machine can run it (root with apt-get, or the packages already there); else the in-memory
 * fake WordPress of the tests, said loudly.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { Site } from "../../src/sync/ports";
import { FakeSite } from "../fake-wordpress";

export type DemoWordPress =
  | { kind: "configured" | "local"; url: string; username: string; appPassword: string; note: string }
  | { kind: "fake"; site: Site; note: string };

/** Stops the WordPress the demo started itself (scripts/wordpress-stop.sh); one named by WP_URL is left alone. */
export function stopWordPress(wordpress: DemoWordPress, log: (line: string) => void): void {
  if (wordpress.kind !== "local") return;
  try {
    execFileSync("bash", ["scripts/wordpress-stop.sh", "--dir", DIR, "--purge"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    log(`stopped the demo's WordPress and removed its database and ${DIR}`);
  } catch (error) {
    log(`could not stop the demo's WordPress: run scripts/wordpress-stop.sh --dir ${DIR} --purge (${String(error)})`);
  }
}

// Not 8881-8885: the tests' and docs/development.md's WordPress instances use those.
const PORT = process.env.DEMO_WP_PORT ?? "8886";
const DIR = process.env.DEMO_WP_DIR ?? "/tmp/entra-wp-sync-wordpress-demo";

export function chooseWordPress(log: (line: string) => void, options: { fake?: boolean } = {}): DemoWordPress {
  if (options.fake) {
    return {
      kind: "fake",
      site: new FakeSite({ companionPlugin: true }),
      note: "IN-MEMORY FAKE WordPress (--fake-wordpress): nothing is written to a real site",
    };
  }
  const { WP_URL, WP_USERNAME, WP_APP_PASSWORD } = process.env;
  if (WP_URL && WP_USERNAME && WP_APP_PASSWORD) {
    return {
      kind: "configured",
      url: WP_URL,
      username: WP_USERNAME,
      appPassword: WP_APP_PASSWORD,
      note: `${WP_URL} (from WP_URL; the demo's users are created there)`,
    };
  }
  const why = whyNoLocalWordPress();
  if (why === null) {
    log(`starting a WordPress with scripts/wordpress-local.sh on port ${PORT} (${DIR}, reset)...`);
    try {
      const out = execFileSync(
        "bash",
        ["scripts/wordpress-local.sh", "--port", PORT, "--dir", DIR, "--env-prefix", "DEMO_WP_", "--reset"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      const env = Object.fromEntries(
        [...out.matchAll(/^export DEMO_WP_([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
      );
      return {
        kind: "local",
        url: env.URL!,
        username: env.USERNAME!,
        appPassword: env.APP_PASSWORD!,
        note: `${env.URL} (WordPress 6.1 from scripts/wordpress-local.sh, fresh; stopped with the demo)`,
      };
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      log(`scripts/wordpress-local.sh failed; using the in-memory fake WordPress instead:\n${stderr.trim()}`);
    }
  }
  return {
    kind: "fake",
    site: new FakeSite({ companionPlugin: true }),
    note:
      "IN-MEMORY FAKE WordPress (nothing is written to a real site): " +
      `${why ?? "scripts/wordpress-local.sh failed"}. Set WP_URL, WP_USERNAME and WP_APP_PASSWORD to use yours.`,
  };
}

/** null when scripts/wordpress-local.sh can work here, else why not. */
function whyNoLocalWordPress(): string | null {
  if (process.platform !== "linux") return "scripts/wordpress-local.sh needs Debian/Ubuntu";
  const installed = existsSync("/usr/share/wordpress/wp-includes/version.php") && existsSync("/usr/bin/php");
  if (installed) return null;
  if (!existsSync("/usr/bin/apt-get")) return "no apt-get to install WordPress with";
  if (process.getuid?.() !== 0) return "installing WordPress with apt-get needs root";
  return null;
}
