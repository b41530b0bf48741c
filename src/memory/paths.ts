/**
 * Memory paths as the model writes them (`/memories/notes/today.md`), checked and normalised before any
 * backend sees them. Pure: the same rules hold for every backend, and a backend only ever gets the
 * relative path this returns (`notes/today.md`; `''` is the root), never the model's text.
 */
import { MemoryError } from './store';

/** The root every memory path lives under, as the model sees it. */
export const MEMORY_ROOT = '/memories';

/** Longest path the model may give, in characters. */
export const MAX_PATH_CHARS = 1024;
/** Longest name of one file or directory, in UTF-8 bytes (the common file-system limit). */
const MAX_SEGMENT_BYTES = 255;

/**
 * The relative path under the root that `path` names, or a {@link MemoryError} saying why it is refused.
 * Refused: anything outside `/memories` (other absolute paths, relative ones), `..` and `.` segments, NUL
 * and other control characters (C0, C1, bidirectional controls), unpaired surrogates, backslashes
 * (another separator on some systems), over-long names.
 * Repeated and trailing slashes are tolerated (`/memories//a/` is `a`).
 */
export function memoryPath(path: string): string {
  if (typeof path !== 'string' || path === '') throw new MemoryError('The path must not be empty.');
  if (path.length > MAX_PATH_CHARS)
    throw new MemoryError(`The path is longer than ${MAX_PATH_CHARS} characters.`);
  // C0, DEL and C1 controls, and the bidirectional controls that make a name read otherwise.
  if (/[\p{Cc}\p{Bidi_Control}]/u.test(path))
    throw new MemoryError('The path must not contain control characters.');
  // An unpaired surrogate has no UTF-8 form: two different ones would name the same file.
  if (/\p{Cs}/u.test(path)) throw new MemoryError('The path must be well-formed Unicode.');
  if (path.includes('\\')) throw new MemoryError(`The path ${path} must not contain backslashes.`);
  if (path !== MEMORY_ROOT && !path.startsWith(`${MEMORY_ROOT}/`))
    throw new MemoryError(`Path must start with ${MEMORY_ROOT}, got: ${path}`);
  const segments = path.slice(MEMORY_ROOT.length).split('/').filter(Boolean);
  for (const segment of segments) {
    if (segment === '..' || segment === '.')
      throw new MemoryError(`Path ${path} would escape ${MEMORY_ROOT} directory`);
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES)
      throw new MemoryError(`A name in ${path} is longer than ${MAX_SEGMENT_BYTES} bytes.`);
  }
  return segments.join('/');
}

/** The path the model sees for a relative one: `/memories` or `/memories/a/b`. */
export function displayPath(relative: string): string {
  return relative === '' ? MEMORY_ROOT : `${MEMORY_ROOT}/${relative}`;
}

/** The parent of a relative path (`''` for a top-level entry). */
export function parentOf(relative: string): string {
  const slash = relative.lastIndexOf('/');
  return slash < 0 ? '' : relative.slice(0, slash);
}

/** The relative path's ancestors, nearest the root first, without the root and itself. */
export function ancestorsOf(relative: string): string[] {
  const segments = relative.split('/');
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

/** Whether `path` is `dir` or lies under it (`''` holds everything). */
export function isWithin(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}
