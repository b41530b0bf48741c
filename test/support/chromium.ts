/**
 * Debian's Chromium for the browser tests (never a downloaded browser): headless, no sandbox (the
 * tests may run as root), nothing the browser would fetch on its own.
 */
import { chromium, type Browser } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
      '--disable-component-update',
    ],
  });
}
