/**
 * `npm run fake-claude -- --port N [--demo|--reject] [--first-byte-ms N] [--between-events-ms N] [--api-key K]`
 *
 * Runs the fake Messages API as a process. Without a script, every conversation gets the demo
 * behaviour (a tool call with input built from its schema, then a text answer).
 */
import { parseArgs } from 'node:util';
import { FakeClaude } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      reject: { type: 'boolean', default: false },
      demo: { type: 'boolean', default: true },
      'first-byte-ms': { type: 'string' },
      'between-events-ms': { type: 'string' },
      'api-key': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: fake-claude [--port N] [--host H] [--reject] [--first-byte-ms N] [--between-events-ms N] [--api-key K]',
    );
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0..65535, got ${values.port}`);
  const ms = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number of milliseconds, got ${v}`);
    return n;
  };
  const fake = await FakeClaude.start({
    port,
    host: values.host,
    fallback: values.reject ? 'reject' : 'demo',
    apiKey: values['api-key'],
    latency: {
      firstByteMs: ms(values['first-byte-ms'], 'first-byte-ms'),
      betweenEventsMs: ms(values['between-events-ms'], 'between-events-ms'),
    },
  });
  console.log(
    `fake-claude listening on ${fake.url} (${values.reject ? 'unscripted conversations rejected' : 'demo mode'})`,
  );
  const stop = () => {
    void fake.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`fake-claude: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
