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
