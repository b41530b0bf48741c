/**
 * Bounds per owner for the ops server's in-memory tables (sessions per operator, sign-ins in progress
 * per client address): an owner who adds one more entry than allowed loses their own oldest, never
 * anybody else's.
 */

/**
 * Deletes `owner`'s oldest entries of `table` (a Map keeps insertion order) so one more fits within
 * `max` of theirs. `ownerOf` says whose an entry is.
 */
export function makeRoomFor<K, V>(
  table: Map<K, V>,
  owner: string,
  ownerOf: (value: V) => string,
  max: number,
): void {
  const theirs = [...table].filter(([, value]) => ownerOf(value) === owner);
  for (const [key] of theirs.slice(0, Math.max(0, theirs.length - max + 1))) table.delete(key);
}

/**
 * Counts what each owner holds open (the ops server's live streams per caller): `take` says whether one
 * more fits within `max` of theirs and, if so, returns its release (idempotent).
 */
export class PerOwnerCount {
  private readonly held = new Map<string, number>();

  constructor(readonly max: number) {}

  take(owner: string): (() => void) | undefined {
    const count = this.held.get(owner) ?? 0;
    if (count >= this.max) return undefined;
    this.held.set(owner, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(owner) ?? 1) - 1;
      if (left > 0) this.held.set(owner, left);
      else this.held.delete(owner);
    };
  }

  /** What `owner` holds now. */
  of(owner: string): number {
    return this.held.get(owner) ?? 0;
  }
}
