/**
 * What arrives at the notification endpoint: Microsoft Graph change and lifecycle notifications
 * (changeNotificationCollection). Each one is checked against the clientState of the subscription
 * it names (only a hash is stored: src/db/subscriptions.ts) and the genuine ones are stored before
 * Graph is answered, so a crash between receipt and processing loses nothing. Nothing here waits
 * on Graph or WordPress: Graph throttles endpoints slower than 3 s.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { insertNotifications, type NotificationInput, requestReconcile } from "../db/notifications";
import type { Queryable } from "../db/pool";
import { findBySubscriptionIds, type Subscription } from "../db/subscriptions";

/** The endpoint Graph posts change and lifecycle notifications to, under PUBLIC_URL. */
export const NOTIFICATIONS_PATH = "/v1/notifications/graph";

export const LIFECYCLE_EVENTS = ["reauthorizationRequired", "subscriptionRemoved", "missed"] as const;
export type RefusalReason = "unknown subscription" | "wrong clientState" | "malformed";

export interface InboxResult {
  stored: number;
  refused: Array<{ reason: RefusalReason }>;
}

/** sha256 of a clientState: what graph_subscriptions keeps instead of the secret. */
export function hashClientState(clientState: string): Buffer {
  return createHash("sha256").update(clientState, "utf8").digest();
}

/** Constant-time comparison of a received clientState with the stored hash. */
function clientStateMatches(received: unknown, subscription: Subscription): boolean {
  if (typeof received !== "string" || !subscription.clientStateHash) return false;
  const hash = hashClientState(received);
  return hash.length === subscription.clientStateHash.length && timingSafeEqual(hash, subscription.clientStateHash);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long a subscription read from the database is trusted without reading it again. */
const KNOWN_FOR_MS = 10 * 60_000;

export interface ReceiveOptions {
  /**
   * false for a caller past its failure budget: notifications are checked only against the
   * subscriptions this process already read, and the rest refused without a query, so forged
   * posts cost no database work while Graph's genuine ones (known subscriptions) still go in.
   */
  lookUp: boolean;
}

export interface NotificationInbox {
  /** Checks and stores one changeNotificationCollection body ({ value: [...] }). */
  receive(body: { value: unknown[] }, options?: ReceiveOptions): Promise<InboxResult>;
}

export function makeNotificationInbox(db: Queryable): NotificationInbox {
  const known = new Map<string, { subscription: Subscription; until: number }>();

  async function subscriptionsFor(ids: string[], lookUp: boolean): Promise<Map<string, Subscription>> {
    const now = Date.now();
    const found = new Map<string, Subscription>();
    const missing: string[] = [];
    for (const id of ids) {
      const entry = known.get(id);
      if (entry && entry.until > now) found.set(id, entry.subscription);
      else missing.push(id);
    }
    if (lookUp && missing.length > 0) {
      for (const subscription of await findBySubscriptionIds(db, missing)) {
        found.set(subscription.subscriptionId!, subscription);
        known.set(subscription.subscriptionId!, { subscription, until: now + KNOWN_FOR_MS });
      }
    }
    return found;
  }

  return {
    async receive(body, options = { lookUp: true }) {
      const named = body.value.map((raw) => (raw as Record<string, unknown> | null)?.["subscriptionId"]);
      const ids = [...new Set(named.filter((id): id is string => typeof id === "string" && id.length <= 200))];
      const result = checkNotifications(body.value, await subscriptionsFor(ids, options.lookUp));
      await insertNotifications(db, result.accepted);
      for (const jobId of result.reconcile) await requestReconcile(db, jobId);
      return { stored: result.accepted.length, refused: result.refused };
    },
  };
}

/** Each notification against the subscription it names: accepted (parsed) or refused with a reason. No I/O. */
function checkNotifications(value: unknown[], known: ReadonlyMap<string, Subscription>) {
  const refused: InboxResult["refused"] = [];
  const accepted: NotificationInput[] = [];
  const reconcile = new Set<string>();
  for (const raw of value) {
    const n = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const id = n["subscriptionId"];
    if (typeof id !== "string" || id.length > 200) {
      refused.push({ reason: "malformed" });
      continue;
    }
    const subscription = known.get(id);
    if (!subscription) {
      refused.push({ reason: "unknown subscription" });
      continue;
    }
    if (!clientStateMatches(n["clientState"], subscription)) {
      refused.push({ reason: "wrong clientState" });
      continue;
    }
    const parsed = parseNotification(n, subscription);
    if (!parsed) {
      refused.push({ reason: "malformed" });
      continue;
    }
    // A group's membership changed: which users it concerns is for a reconciliation run to find.
    // Asking for that run (before Graph is answered) is all there is to do with it: stored as done,
    // it is pruned with the history instead of waiting for ever (only lifecycle events and changes
    // to users are taken up later).
    if (parsed.entraId === null && parsed.lifecycleEvent === null) {
      reconcile.add(subscription.jobId);
      parsed.done = true;
    }
    accepted.push(parsed);
  }
  return { accepted, refused, reconcile };
}

function parseNotification(n: Record<string, unknown>, subscription: Subscription): NotificationInput | null {
  const base = { jobId: subscription.jobId, subscriptionId: subscription.subscriptionId! };
  const lifecycle = n["lifecycleEvent"];
  if (lifecycle !== undefined) {
    if (!(LIFECYCLE_EVENTS as readonly unknown[]).includes(lifecycle)) return null;
    return { ...base, entraId: null, changeType: null, lifecycleEvent: lifecycle as string };
  }
  const changeType = n["changeType"];
  if (changeType !== "created" && changeType !== "updated" && changeType !== "deleted") return null;
  if (!subscription.resource.startsWith("users")) {
    return { ...base, entraId: null, changeType, lifecycleEvent: null };
  }
  const data = n["resourceData"] as Record<string, unknown> | undefined;
  const entraId = data?.["id"];
  if (typeof entraId !== "string" || !GUID.test(entraId)) return null;
  return { ...base, entraId: entraId.toLowerCase(), changeType, lifecycleEvent: null };
}
