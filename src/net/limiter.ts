/**
 * Bounded concurrency: at most `limit` tasks run at once, the others wait in FIFO order. One
 * limiter is shared by every call of one site instance, so the engine may fire many calls and
 * WordPress still sees at most WP_CONCURRENCY requests in flight. (php -S with 4 workers was
 * 2.1-2.3x faster at 4 concurrent requests than sequential; see shared/reference/wordpress-rest-facts.md.)
 */
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
}

export function makeLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${limit}`);
  let active = 0;
  const queue: Array<() => void> = [];

  const release = (): void => {
    const next = queue.shift();
    if (next)
      next(); // the slot passes straight to the next task: `active` stays the same
    else active--;
  };

  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < limit) active++;
      else await new Promise<void>((resolve) => queue.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
