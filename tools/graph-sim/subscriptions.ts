/**
 * Change notifications in the simulator, as Microsoft Graph sends them: POST /subscriptions
 * validates the notification URL first (POST ?validationToken=..., which must be echoed as
 * text/plain within 10 s), PATCH renews, DELETE removes; a change to a user is posted to every
 * subscription on "users", a change to a group's members to every subscription on that group, as
 * a changeNotificationCollection; lifecycle events can be sent at will, as Graph sends them.
 * Faults: slow delivery, duplicates, out-of-order delivery, a wrong clientState, a missed one.
 */
import { randomUUID } from "node:crypto";
import { GraphFailure, type Reply } from "./routes";

/** Graph's longest lifetime for directory resources (users, groups): 41,760 minutes. */
const MAX_LIFETIME_MS = 41_760 * 60_000;

export interface SimSubscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: string;
}

export interface NotificationFaults {
  /** Each delivery waits this long first. */
  delayMs: number;
  /** The next n notifications are delivered twice. */
  duplicate: number;
  /** The next n notifications are held back and delivered after the one that follows them. */
  outOfOrder: number;
  /** The next n notifications carry a wrong clientState. */
  wrongClientState: number;
  /** The next n notifications are never delivered. */
  missed: number;
}

export class SubscriptionHub {
  readonly subscriptions = new Map<string, SimSubscription>();
  readonly faults: NotificationFaults = { delayMs: 0, duplicate: 0, outOfOrder: 0, wrongClientState: 0, missed: 0 };
  /** Notifications POSTed (each delivery attempt of a duplicate counts). */
  delivered = 0;
  /** Deliveries the endpoint did not answer 202 (status, or 0 for no answer). */
  readonly failures: number[] = [];
  /**
   * Where a URL is really delivered: stands for the TLS-terminating proxy in front of a service
   * that listens on plain http in tests (Graph itself only posts to https URLs).
   */
  route: (url: string) => string = (url) => url;
  private held: Array<() => Promise<void>> = [];
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly tenantId: string) {}

  async create(body: unknown): Promise<Reply> {
    const request = (body ?? {}) as Record<string, unknown>;
    for (const field of ["changeType", "notificationUrl", "resource", "expirationDateTime"]) {
      if (typeof request[field] !== "string") throw new GraphFailure(400, "InvalidRequest", `${field} is required.`);
    }
    const expiration = checkExpiration(String(request["expirationDateTime"]));
    const resource = String(request["resource"]).replace(/^\//, "");
    if (resource !== "users" && !/^groups\/[0-9a-f-]{36}$/i.test(resource)) {
      throw new GraphFailure(400, "InvalidRequest", `Resource '${resource}' is not supported.`);
    }
    const notificationUrl = String(request["notificationUrl"]);
    const lifecycleUrl =
      typeof request["lifecycleNotificationUrl"] === "string" ? request["lifecycleNotificationUrl"] : null;
    for (const url of new Set([notificationUrl, ...(lifecycleUrl ? [lifecycleUrl] : [])]))
      await validate(this.route(url));
    const subscription: SimSubscription = {
      id: randomUUID(),
      resource,
      changeType: String(request["changeType"]),
      notificationUrl,
      lifecycleNotificationUrl: lifecycleUrl,
      clientState: typeof request["clientState"] === "string" ? request["clientState"] : null,
      expirationDateTime: expiration,
    };
    this.subscriptions.set(subscription.id, subscription);
    return {
      status: 201,
      body: { "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity", ...subscription },
    };
  }

  renew(id: string, body: unknown): Reply {
    const subscription = this.mustFind(id);
    const request = (body ?? {}) as Record<string, unknown>;
    if (typeof request["expirationDateTime"] !== "string") {
      throw new GraphFailure(400, "InvalidRequest", "expirationDateTime is required.");
    }
    subscription.expirationDateTime = checkExpiration(request["expirationDateTime"]);
    return { status: 200, body: subscription };
  }

  remove(id: string): Reply {
    this.mustFind(id);
    this.subscriptions.delete(id);
    return { status: 204, body: null };
  }

  /** What the tenant calls on every change to a user. */
  userChanged(userId: string, changeType: "updated" | "deleted"): void {
    for (const s of this.subscriptions.values()) {
      if (s.resource !== "users" || !s.changeType.split(",").includes(changeType)) continue;
      this.send(s, s.notificationUrl, {
        subscriptionId: s.id,
        subscriptionExpirationDateTime: s.expirationDateTime,
        changeType,
        resource: `Users/${userId}`,
        resourceData: {
          "@odata.type": "#Microsoft.Graph.User",
          "@odata.id": `Users/${userId}`,
          id: userId,
          organizationId: this.tenantId,
        },
        clientState: s.clientState,
        tenantId: this.tenantId,
      });
    }
  }

  /**
   * What Graph posts to a subscription on "groups/{id}" when the group's direct members change: an
   * "updated" notification on the group naming the member in `members@delta` (with `@removed` when
   * it left), as subscribers observe it (microsoft-graph-docs issue 9915); no resource data beyond ids.
   */
  membersChanged(groupId: string, memberId: string, removed: boolean): void {
    for (const s of this.subscriptions.values()) {
      if (s.resource.toLowerCase() !== `groups/${groupId}`.toLowerCase()) continue;
      this.send(s, s.notificationUrl, {
        subscriptionId: s.id,
        subscriptionExpirationDateTime: s.expirationDateTime,
        changeType: "updated",
        resource: `Groups/${groupId}`,
        resourceData: {
          "@odata.type": "#Microsoft.Graph.Group",
          "@odata.id": `Groups/${groupId}`,
          id: groupId,
          organizationId: this.tenantId,
          "members@delta": [removed ? { id: memberId, "@removed": "deleted" } : { id: memberId }],
        },
        clientState: s.clientState,
        tenantId: this.tenantId,
      });
    }
  }

  /**
   * Sends a lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed) to the
   * lifecycle URL, shaped as Graph sends one: no changeType, the subscription as resourceData, the
   * tenant as organizationId (msgraph-sdk-java issue 1551). A removed subscription is gone.
   */
  lifecycle(id: string, lifecycleEvent: "reauthorizationRequired" | "subscriptionRemoved" | "missed"): void {
    const s = this.mustFind(id);
    if (lifecycleEvent === "subscriptionRemoved") this.subscriptions.delete(id);
    this.send(s, s.lifecycleNotificationUrl ?? s.notificationUrl, {
      lifecycleEvent,
      subscriptionId: s.id,
      resource: "",
      clientState: s.clientState,
      sequence: null,
      resourceData: {
        "@odata.type": "#microsoft.graph.subscription",
        "@odata.id": `subscriptions/${s.id}`,
        id: s.id,
      },
      encryptedContent: null,
      organizationId: this.tenantId,
      subscriptionExpirationDateTime: s.expirationDateTime,
    });
  }

  /** Lets a subscription lapse as if its expiry passed unrenewed: Graph forgets it and sends nothing. */
  expire(id: string): void {
    this.mustFind(id);
    this.subscriptions.delete(id);
  }

  /** Resolves once every delivery started so far has been answered (held ones are sent first). */
  async settled(): Promise<void> {
    for (const deliver of this.held.splice(0)) this.track(deliver());
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private send(s: SimSubscription, url: string, notification: Record<string, unknown>): void {
    if (this.faults.missed > 0) {
      this.faults.missed--;
      return;
    }
    if (this.faults.wrongClientState > 0) {
      this.faults.wrongClientState--;
      notification.clientState = `${s.clientState ?? ""}-forged`;
    }
    const copies = this.faults.duplicate > 0 ? 2 : 1;
    if (copies === 2) this.faults.duplicate--;
    const deliver = async () => {
      for (let i = 0; i < copies; i++) await this.post(url, { value: [notification] });
    };
    if (this.faults.outOfOrder > 0) {
      this.faults.outOfOrder--;
      this.held.push(deliver);
      return;
    }
    const held = this.held.splice(0);
    this.track(
      (async () => {
        await deliver();
        for (const late of held) await late();
      })(),
    );
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  private async post(url: string, body: unknown): Promise<void> {
    if (this.faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs));
    this.delivered++;
    try {
      const response = await fetch(this.route(url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.status !== 202) this.failures.push(response.status);
    } catch {
      this.failures.push(0);
    }
  }

  private mustFind(id: string): SimSubscription {
    const subscription = this.subscriptions.get(id);
    if (!subscription) throw new GraphFailure(404, "ResourceNotFound", `The object was not found.`);
    return subscription;
  }
}

function checkExpiration(value: string): string {
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new GraphFailure(400, "InvalidRequest", "expirationDateTime is not a date.");
  if (at - Date.now() > MAX_LIFETIME_MS) {
    throw new GraphFailure(400, "InvalidRequest", "Subscription expiration can only be 41760 minutes in the future.");
  }
  return new Date(at).toISOString();
}

/** Graph's handshake: the token must come back as text/plain, unchanged, within 10 s. */
async function validate(url: string): Promise<void> {
  const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
  const target = `${url}${url.includes("?") ? "&" : "?"}validationToken=${encodeURIComponent(token)}`;
  let ok = false;
  try {
    const response = await fetch(target, {
      method: "POST",
      headers: { "content-type": "text/plain; charset=utf-8" },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    ok =
      response.status === 200 &&
      (response.headers.get("content-type") ?? "").startsWith("text/plain") &&
      text === token;
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new GraphFailure(
      400,
      "ValidationError",
      "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
    );
  }
}
