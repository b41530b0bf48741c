/**
 * `npm run ops`: the ops server (approval page, JSON API) on 127.0.0.1 by default. OPS_TOKEN is the
 * bearer token; without one, a random token is made and printed, good for this run only.
 */
import { randomBytes } from 'node:crypto';
import { AgentClient } from '../client';
import { codecFromEnv } from '../codec';
import { loadConfig } from '../config';
import { createOpsServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const token = config.OPS_TOKEN ?? randomBytes(24).toString('base64url');
  const agent = await AgentClient.fromConfig(config);
  const app = await createOpsServer({
    agent,
    token,
    namespace: config.TEMPORAL_NAMESPACE,
    logger: false,
    codec: codecFromEnv(config.AGENT_ENCRYPTION_KEYS, config.AGENT_ENCRYPTION_KEY_ID),
    codecCorsOrigin: config.AGENT_CODEC_CORS_ORIGIN,
  });
  const address = await app.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
  console.log(`ops: ${address}/  (token: ${config.OPS_TOKEN ? 'from OPS_TOKEN' : token})`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`ops: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
