/**
 * Queued faults: each applies to the next `times` Graph requests that match its route (and, for
 * token faults, only requests that follow a nextLink or deltaLink). Served in FIFO order.
 */

export type SimRoute =
  | "discovery"
  | "token"
  | "users"
  | "user"
  | "users.delta"
  | "group.transitiveMembers"
  | "user.checkMemberGroups"
  | "subscriptions"
  | "subscription"
  | "user.photo"
  | "sim"
  | "unknown";

export type FaultKind =
  /** An HTTP error with the Graph envelope; retryAfter (seconds, may be 0 or fractional) sets Retry-After. */
  | "status"
  /** The socket is destroyed before any response byte. */
  | "reset"
  /** 400 Directory_ExpiredPageToken on a request carrying $skiptoken. */
  | "expired-page-token"
  /** 410 Gone with a Location to restart the delta (delta-query-overview "synchronization reset"). */
  | "delta-gone"
  /** 400 syncStateNotFound on a request carrying a delta token. */
  | "delta-sync-state-not-found"
  /** 400 resyncRequired on a request carrying a delta token. */
  | "delta-resync-required";

export interface Fault {
  kind: FaultKind;
  status?: number;
  retryAfter?: number | string;
  code?: string;
  message?: string;
  /** How many matching requests get this fault (default 1). */
  times?: number;
  /** Which routes it applies to (default: every Graph route, i.e. not discovery/token). */
  routes?: SimRoute[];
}

const GRAPH_ROUTES: SimRoute[] = [
  "users",
  "user",
  "users.delta",
  "group.transitiveMembers",
  "user.checkMemberGroups",
  "user.photo",
];

export class FaultQueue {
  private readonly queue: Array<Fault & { remaining: number }> = [];

  add(...faults: Fault[]): void {
    for (const fault of faults) {
      if (!fault || typeof fault.kind !== "string") throw new Error("a fault needs a kind");
      this.queue.push({ ...fault, remaining: fault.times ?? 1 });
    }
  }

  throttle(retryAfter: number | string | undefined, times = 1, routes?: SimRoute[]): void {
    this.add({ kind: "status", status: 429, retryAfter, times, ...(routes ? { routes } : {}) });
  }

  status(status: number, options: Omit<Fault, "kind" | "status"> = {}): void {
    this.add({ kind: "status", status, ...options });
  }

  clear(): void {
    this.queue.length = 0;
  }

  get pending(): number {
    return this.queue.reduce((n, f) => n + f.remaining, 0);
  }

  /** Takes the first queued fault that applies to this request, if any. */
  take(route: SimRoute, params: URLSearchParams): Fault | undefined {
    const index = this.queue.findIndex((f) => applies(f, route, params));
    if (index < 0) return undefined;
    const fault = this.queue[index]!;
    fault.remaining--;
    if (fault.remaining <= 0) this.queue.splice(index, 1);
    return fault;
  }
}

function applies(fault: Fault, route: SimRoute, params: URLSearchParams): boolean {
  if (!(fault.routes ?? GRAPH_ROUTES).includes(route)) return false;
  if (fault.kind === "expired-page-token") return params.has("$skiptoken");
  if (fault.kind.startsWith("delta-")) return route === "users.delta" && params.has("$deltatoken");
  return true;
}
