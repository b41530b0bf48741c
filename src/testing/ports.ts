/**
 * Ports for servers a test (or `npm start`) starts as other processes, which must be told their port
 * before they bind it. A port found free by binding port 0 comes from the kernel's ephemeral range,
 * from which it also gives every outgoing connection its local port: on a busy machine (three suites
 * at once, each with servers and clients) the port was taken again before the server bound it, and the
 * server failed with "address already in use". These ports come from below that range, where the
 * kernel never allocates on its own; they are checked free by binding, and one process never hands
 * out the same port twice.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Below this the kernel allocates no ephemeral ports (Linux's default start; macOS starts at 49152). */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const start = Number(low);
    return Number.isInteger(start) && start > FLOOR + 1000 ? start : 32_768;
  } catch {
    return 32_768;
  }
}

/** The lowest port handed out: above the well-known and most registered services' ports. */
const FLOOR = 20_000;
const handedOut = new Set<number>();

/** Whether nothing listens on `port` of 127.0.0.1 (bound and released at once). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1, outside the kernel's ephemeral range (see the file's comment). */
export async function freePort(): Promise<number> {
  const ceiling = ephemeralStart();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(FLOOR, ceiling);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found between ${FLOOR} and ${ceiling} in 100 tries`);
}
