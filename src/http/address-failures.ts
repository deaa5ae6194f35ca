/**
 * Failed authentications per client address, counted in this process's memory: the pre-filter
 * that keeps an address over its budget off the database. The shared count in PostgreSQL
 * (src/db/rate-limits.ts) still judges addresses under it, so replicas agree while it matters;
 * past it each replica refuses on its own count (a guesser spread over N replicas gets at most N
 * budgets' worth of database work per window, not one query per attempt).
 */

/** More addresses than this (an attacker rotating through an IPv6 range) and the oldest windows go first. */
const MAX_ADDRESSES = 10_000;

interface Window {
  failures: number;
  endsAt: number;
}

export interface AddressFailures {
  /** Counts one failure; returns the address's failures in its window and when that window ends. */
  count(address: string, now?: number): Window;
  /** The shared count says the address is over budget until endsAt: refuse it here without asking again. */
  markOver(address: string, endsAt: number, now?: number): void;
  /** Whether the address has spent its budget (failures beyond `budget` in its current window). */
  isOver(address: string, now?: number): boolean;
  /** Milliseconds until the address's window ends (at least 1000). */
  retryAfterMs(address: string, now?: number): number;
}

export function makeAddressFailures(budget: number, windowMs: number): AddressFailures {
  const windows = new Map<string, Window>();

  function current(address: string, now: number): Window {
    let window = windows.get(address);
    if (window === undefined || window.endsAt <= now) {
      if (window !== undefined) windows.delete(address);
      if (windows.size >= MAX_ADDRESSES) evict(now);
      window = { failures: 0, endsAt: now + windowMs };
      windows.set(address, window);
    }
    return window;
  }

  function evict(now: number): void {
    for (const [address, window] of windows) if (window.endsAt <= now) windows.delete(address);
    // Still full: drop the oldest (a Map iterates in insertion order).
    for (const address of windows.keys()) {
      if (windows.size < MAX_ADDRESSES) break;
      windows.delete(address);
    }
  }

  return {
    count(address, now = Date.now()) {
      const window = current(address, now);
      window.failures += 1;
      return { ...window };
    },
    markOver(address, endsAt, now = Date.now()) {
      const window = current(address, now);
      window.failures = Math.max(window.failures, budget + 1);
      window.endsAt = Math.max(window.endsAt, endsAt);
    },
    isOver(address, now = Date.now()) {
      const window = windows.get(address);
      return window !== undefined && window.endsAt > now && window.failures > budget;
    },
    retryAfterMs(address, now = Date.now()) {
      const window = windows.get(address);
      return Math.max(1000, (window?.endsAt ?? now) - now);
    },
  };
}
