/**
 * Keeps this server's state queries and its updates to one conversation apart.
 *
 * A state query and an update of this server to one conversation never overlap: an update waits for the
 * read in flight (bounded by the query timeout), and reads wait until the updates in flight are
 * answered, so a read after a decision shows it. (It also kept the page's queries away from SDK 1.24's
 * legacy-query fault before the workflow's guard fixed it: README, "Fixed: a legacy query answered with
 * other commands".)
 * Concurrent reads of one conversation share one query. Every query is counted (`stats.queries`).
 */
export class ConversationGate {
  private readonly reads = new Map<string, Promise<unknown>>();
  private readonly updates = new Map<string, { count: number; done: Promise<void>; release: () => void }>();
  /** State queries made through the gate, and updates run through it. */
  readonly stats = { queries: 0, updates: 0 };

  /** Reads under way (each one query, or waiting for an update to be answered before it). */
  get readsInFlight(): number {
    return this.reads.size;
  }

  /**
   * Runs `query` for `workflowId` once no update of this server to it is in flight; callers that
   * arrive while one runs share it.
   */
  read<T>(workflowId: string, query: () => Promise<T>): Promise<T> {
    const running = this.reads.get(workflowId);
    if (running) return running as Promise<T>;
    const read = (async () => {
      for (let u = this.updates.get(workflowId); u; u = this.updates.get(workflowId)) await u.done;
      this.stats.queries++;
      return query();
    })().finally(() => {
      if (this.reads.get(workflowId) === read) this.reads.delete(workflowId);
    });
    this.reads.set(workflowId, read);
    return read;
  }

  /** Runs `update` for `workflowId` after the read in flight, holding new reads until it is answered. */
  async update<T>(workflowId: string, update: () => Promise<T>): Promise<T> {
    let held = this.updates.get(workflowId);
    if (!held) {
      let release!: () => void;
      const done = new Promise<void>((r) => (release = r));
      held = { count: 0, done, release };
      this.updates.set(workflowId, held);
    }
    held.count++;
    try {
      await this.reads.get(workflowId)?.catch(() => undefined);
      this.stats.updates++;
      return await update();
    } finally {
      if (--held.count === 0) {
        this.updates.delete(workflowId);
        held.release();
      }
    }
  }
}
