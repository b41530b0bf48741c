/** The workflow as it was before the patch: the changed code path does not exist (and no marker is written). */
import type { PATCHES } from '../../../../src/workflows/patches';

export { PATCHES } from '../../../../src/workflows/patches';

export function rolledOut(_id: (typeof PATCHES)[keyof typeof PATCHES]): boolean {
  return false;
}
