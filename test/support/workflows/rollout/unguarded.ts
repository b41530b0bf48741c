/** The same change shipped without patched(): the new code path always runs, even when replaying old histories. */
import type { PATCHES } from '../../../../src/workflows/patches';

export { PATCHES } from '../../../../src/workflows/patches';

export function rolledOut(_id: (typeof PATCHES)[keyof typeof PATCHES]): boolean {
  return true;
}
