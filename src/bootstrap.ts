/**
 * Secrets the service needs even with nothing configured: an admin token, a link signing key and
 * the deployment id that link tokens are bound to. Configured values win; otherwise they are
 * generated once and persisted in the database, so every replica shares them. Of the admin
 * token only its SHA-256 is kept (it is only ever compared); a generated one is shown once, on
 * the terminal, or written to a 0600 file when the output is not a terminal (a log stream).
 */
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "./config";
import { secretDigest } from "./core/hash";
import { writeDataDirFile } from "./db/data-dir";
import type { Database } from "./db/pool";
import { getOrCreateSecret, readSecret } from "./db/secrets";
import { linkAudience, type SigningKey } from "./links/tokens";
import type { Logger, SecretRegistry } from "./logger";

export interface ServiceSecrets {
  /** SHA-256 of the admin token: all the service keeps of it. */
  adminTokenDigest: Buffer;
  /** SHA-256 of METRICS_TOKEN, or null: /metrics is open. */
  metricsTokenDigest: Buffer | null;
  signingKeys: SigningKey[];
  /** The audience of this deployment's link tokens (linkAudience of its deployment id). */
  linkAudience: string;
}

const token = () => randomBytes(32).toString("base64url");

/** The name of the file a generated admin token goes to when there is no terminal. */
export const ADMIN_TOKEN_FILE = "admin-token";
const ADMIN_TOKEN_SECRET = "admin_token_sha256";

export async function ensureSecrets(
  config: Config,
  db: Database,
  logger: Logger & { secrets: SecretRegistry },
  /** Where the generated admin token's line goes instead (tests and the demo read it). */
  print?: (line: string) => void,
): Promise<ServiceSecrets> {
  let adminTokenDigest: Buffer;
  if (config.adminToken) {
    adminTokenDigest = secretDigest(config.adminToken);
    logger.secrets.add(config.adminToken);
  } else {
    adminTokenDigest = await generatedAdminToken(config, db, logger, print);
  }
  let signingKeys = config.linkSigningKeys;
  if (signingKeys.length === 0) {
    const stored = await getOrCreateSecret(db.pool, "link_signing_key", () => `generated:${token()}`);
    const at = stored.value.indexOf(":");
    signingKeys = [{ kid: stored.value.slice(0, at), secret: stored.value.slice(at + 1) }];
    logger.info(
      { kid: signingKeys[0]!.kid },
      "LINK_SIGNING_KEYS unset: using a generated signing key stored in the database",
    );
  }
  for (const key of signingKeys) logger.secrets.add(key.secret);
  const deployment = await getOrCreateSecret(db.pool, "deployment_id", randomUUID);
  return {
    adminTokenDigest,
    metricsTokenDigest: config.metricsToken === null ? null : secretDigest(config.metricsToken),
    signingKeys,
    linkAudience: linkAudience(deployment.value),
  };
}

/**
 * The admin token generated at the first start. Whoever will hold it gets it before its hash is
 * stored: a start that cannot hand the token over (DATA_DIR not writable) stores nothing, so the
 * next start generates one again, instead of keeping a hash whose token nobody has.
 */
async function generatedAdminToken(
  config: Config,
  db: Database,
  logger: Logger & { secrets: SecretRegistry },
  print: ((line: string) => void) | undefined,
): Promise<Buffer> {
  const existing = await readSecret(db.pool, ADMIN_TOKEN_SECRET);
  if (existing !== null) {
    logger.info(
      { file: path.join(config.dataDir, ADMIN_TOKEN_FILE) },
      "ADMIN_TOKEN unset: using the admin token generated at the first start (the database keeps only its hash; it was shown on the terminal or written to this file). Lost it? Set ADMIN_TOKEN to a new one",
    );
    return Buffer.from(existing, "hex");
  }
  const generated = token();
  logger.secrets.add(generated);
  const line = `\n  Generated ADMIN_TOKEN (shown once; the database keeps only its hash): ${generated}\n`;
  const handOver = print
    ? { show: () => print(line), drop: () => undefined }
    : revealOnTerminalOrFile(line, generated, config.dataDir, logger);
  // The first replica to insert the digest wins and is the only one that knows the token.
  const stored = await getOrCreateSecret(db.pool, ADMIN_TOKEN_SECRET, () => secretDigest(generated).toString("hex"));
  if (stored.created) handOver.show();
  else handOver.drop();
  return Buffer.from(stored.value, "hex");
}

/**
 * On a terminal the line is printed. Otherwise stdout is a log stream (journald, docker logs, a
 * log shipper) that others read and keep: the token goes to DATA_DIR/admin-token (0600) and only
 * the file's path is logged. The file is written first under a pending name (show renames it,
 * drop removes it), so a DATA_DIR problem stops the start before the hash is stored.
 */
function revealOnTerminalOrFile(
  line: string,
  adminToken: string,
  dataDir: string,
  logger: Logger,
): { show(): void; drop(): void } {
  if (process.stdout.isTTY) return { show: () => process.stdout.write(`${line}\n`), drop: () => undefined };
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  const pending = `${file}.pending-${process.pid}`;
  writeDataDirFile(dataDir, pending, `${adminToken}\n`);
  return {
    show() {
      fs.renameSync(pending, file);
      logger.warn(
        { file },
        "generated an admin token (ADMIN_TOKEN unset) and wrote it to this file, readable only by the service user: keep it elsewhere, then delete the file",
      );
    },
    drop: () => fs.rmSync(pending, { force: true }),
  };
}
