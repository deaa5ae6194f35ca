/** What the HTTP app is built from (buildApp in app.ts) and what every route module may use. */
import type { ServiceSecrets } from "../bootstrap";
import type { Config } from "../config";
import type { Database } from "../db/pool";
import type { LinkCutoffs } from "../links/revocations";
import type { Logger } from "../logger";
import type { Metrics } from "../observe/metrics";
import type { Watchdog } from "../observe/watchdog";
import type { RefusalReason } from "../sync/notification-inbox";
import type { ProvisionService } from "../sync/provision";
import type { SyncService } from "../sync/service";

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  secrets: ServiceSecrets;
  sync: SyncService;
  linkCutoffs: LinkCutoffs;
  /** Serves GET /metrics when given. */
  metrics?: Pick<Metrics, "registry">;
  /** Its stalled-run warnings are shown on /status. */
  watchdog?: Pick<Watchdog, "warnings">;
  /** Told when the notification endpoint stored notifications (to apply them now) or refused one. */
  notifications?: { onStored(): void; onRefused(reason: RefusalReason): void };
  /**
   * The digest of the local token the CLI on this machine presents (src/local-service.ts), accepted
   * like the admin token; absent: only the admin token.
   */
  localTokenDigest?: Buffer;
  /** Syncs one user on demand (POST /v1/jobs/{job}/users/{entraId}/sync); 501 without it. */
  provision?: Pick<ProvisionService, "syncUser">;
}
