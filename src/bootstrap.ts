/**
 * Secrets the service needs even with nothing configured: an admin token and a link signing
 * key. Configured values win; otherwise they are generated once, persisted in the database (so
 * every replica shares them) and the admin token is printed once, on the terminal, not the log.
 */
import { randomBytes } from "node:crypto";
import type { Config, SigningKey } from "./config";
import type { Database } from "./db/pool";
import { getOrCreateSecret } from "./db/secrets";
import type { Logger, SecretRegistry } from "./logger";

export interface ServiceSecrets {
  adminToken: string;
  signingKeys: SigningKey[];
}

const token = () => randomBytes(32).toString("base64url");

export async function ensureSecrets(
  config: Config,
  db: Database,
  logger: Logger & { secrets: SecretRegistry },
  print: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<ServiceSecrets> {
  let adminToken = config.adminToken;
  if (!adminToken) {
    const stored = await getOrCreateSecret(db.pool, "admin_token", token);
    adminToken = stored.value;
    if (stored.created) {
      print(`\n  Generated ADMIN_TOKEN (shown once; it is stored in the database): ${adminToken}\n`);
    } else {
      logger.info("using the admin token generated earlier and stored in the database (ADMIN_TOKEN unset)");
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
  logger.secrets.add(adminToken);
  for (const key of signingKeys) logger.secrets.add(key.secret);
  return { adminToken, signingKeys };
}
