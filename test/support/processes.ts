import { readdirSync, readFileSync } from 'node:fs';

/**
 * Processes (pid → command line) whose command line mentions one of `needles` and, with `marker`, whose
 * environment holds that `NAME=value` (what this run's children inherit). Linux /proc only.
 */
export function processesMatching(needles: string[], marker?: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (!cmd || !needles.some((n) => cmd.includes(n))) continue;
      if (marker && !readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(marker)) continue;
      found.set(pid, cmd);
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}
