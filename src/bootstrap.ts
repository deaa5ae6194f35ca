/**
 * Secrets the service needs even with nothing configured: an admin token, a link signing key and
 * the deployment id that link tokens are bound to. Configured values win; otherwise they are
 * generated once and persisted in the database, so every replica shares them. Of the admin
 * token only its SHA-256 is kept (it is only ever compared); a generated one is shown once, on
 * the terminal, or written to a 0600 file when the output is not a terminal (a log stream).
 */
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import type { Config } from "./config";
import { secretDigest } from "./core/hash";
import type { Database } from "./db/pool";
import { getOrCreateSecret } from "./db/secrets";
import { linkAudience, type SigningKey } from "./links/tokens";
import type { Logger, SecretRegistry } from "./logger";
import { writePrivateFile } from "./private-files";

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
    // The first replica to insert the digest wins and is the only one that knows the token.
    const generated = token();
    const stored = await getOrCreateSecret(db.pool, "admin_token_sha256", () =>
      secretDigest(generated).toString("hex"),
    );
    adminTokenDigest = Buffer.from(stored.value, "hex");
    if (stored.created) {
      logger.secrets.add(generated);
      const line = `\n  Generated ADMIN_TOKEN (shown once; the database keeps only its hash): ${generated}\n`;
      if (print) print(line);
      else revealOnTerminalOrFile(line, generated, config.dataDir, logger);
    } else {
      logger.info(
        "ADMIN_TOKEN unset: using the admin token generated at the first start (the database keeps only its hash)",
      );
    }
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
 * On a terminal the line is printed. Otherwise stdout is a log stream (journald, docker logs, a
 * log shipper) that others read and keep: the token goes to DATA_DIR/admin-token (0600) and only
 * the file's path is logged.
 */
function revealOnTerminalOrFile(line: string, adminToken: string, dataDir: string, logger: Logger): void {
  if (process.stdout.isTTY) {
    process.stdout.write(`${line}\n`);
    return;
  }
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  writePrivateFile(file, `${adminToken}\n`);
  logger.warn(
    { file },
    "generated an admin token (ADMIN_TOKEN unset) and wrote it to this file, readable only by the service user: keep it elsewhere, then delete the file",
  );
}
