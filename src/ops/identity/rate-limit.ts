/**
 * Failed sign-ins per client address: after `max` failures within `windowMs`, the address gets 429
 * with `Retry-After` until its oldest failure leaves the window. Only failures count: a good token is
 * never slowed down. Bounded memory: at most `maxClients` addresses are tracked (the stalest dropped).
 */
export interface LoginLimitOptions {
  /** Failures allowed in the window (default 10). */
  max?: number;
  /** The window, in milliseconds (default 15 minutes). */
  windowMs?: number;
  /** Addresses tracked at once (default 10,000). */
  maxClients?: number;
  now?: () => number;
}

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(options: LoginLimitOptions = {}) {
    this.max = options.max ?? 10;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds the address must wait before trying again, or 0 when it may try now. */
  retryAfter(address: string): number {
    const recent = this.recent(address);
    if (recent.length < this.max) return 0;
    return Math.max(1, Math.ceil((recent[0] + this.windowMs - this.now()) / 1000));
  }

  fail(address: string): void {
    const recent = this.recent(address);
    recent.push(this.now());
    if (recent.length > this.max) recent.shift();
    this.failures.delete(address); // re-inserted last: the Map's order is the staleness order
    this.failures.set(address, recent);
    while (this.failures.size > this.maxClients) {
      const stalest = this.failures.keys().next().value;
      if (stalest === undefined) break;
      this.failures.delete(stalest);
    }
  }

  private recent(address: string): number[] {
    const since = this.now() - this.windowMs;
    const kept = (this.failures.get(address) ?? []).filter((at) => at > since);
    if (kept.length) this.failures.set(address, kept);
    else this.failures.delete(address);
    return kept;
  }
}
