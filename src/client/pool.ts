/**
 * Runs `work` on every item, at most `width` at once (a long list must not flood the workers with
 * queries); resolves when every item is done. `work` handles its own failures.
 */
export async function inPool<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}
