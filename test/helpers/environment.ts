/**
 * The test environment of every file: Node's, plus clean-up of what a file leaves behind. A
 * helper that makes a per-file database or temporary directory registers it (keepIfFailed in
 * ./leftovers.ts); when every test and hook of the file passed, it is removed at the end of the
 * file, and when one failed it is kept for inspection and named on stderr. (A green run used to
 * leave ~200 MB of databases and directories behind.)
 */
import fs from "node:fs";
import { TestEnvironment } from "jest-environment-node";
import { Client } from "pg";
import { adminUrl } from "./db-names";
import type { Leftover } from "./leftovers";

/** The jest-circus events this needs (structurally, to avoid a dependency on @jest/types). */
type TestEvent = { name: string; test?: { errors: unknown[] } };

export default class CleaningEnvironment extends TestEnvironment {
  private readonly leftovers: Leftover[] = [];
  private failed = false;

  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    this.global.__keepIfFailed = (leftover: Leftover) => void this.leftovers.push(leftover);
    this.testPath = args[1].testPath;
  }

  private readonly testPath: string;

  handleTestEvent(event: TestEvent): void {
    if (event.name === "hook_failure" || (event.name === "test_done" && (event.test?.errors.length ?? 0) > 0)) {
      this.failed = true;
    }
  }

  override async teardown(): Promise<void> {
    if (this.failed) {
      if (this.leftovers.length > 0) {
        const names = this.leftovers.map((l) => (l.kind === "database" ? `database ${l.name}` : l.path));
        process.stderr.write(`[tests] kept for inspection (a test of ${this.testPath} failed): ${names.join(", ")}\n`);
      }
    } else {
      await removeLeftovers(this.leftovers);
    }
    await super.teardown();
  }
}

async function removeLeftovers(leftovers: Leftover[]): Promise<void> {
  const databases = leftovers.flatMap((l) => (l.kind === "database" ? [l.name] : []));
  for (const leftover of leftovers) {
    if (leftover.kind === "dir") fs.rmSync(leftover.path, { recursive: true, force: true });
  }
  if (databases.length === 0) return;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    // with (force): a pool the file forgot to close must not keep its database alive.
    for (const name of databases) await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}
