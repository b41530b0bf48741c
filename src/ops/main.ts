/**
 * `npm run ops`: the ops server (approval page, JSON API) on 127.0.0.1 by default. Operators sign in
 * with their own tokens (`agent operators add`) or through OpenID Connect; OPS_TOKEN is the admin and
 * automation credential; without one, a random token is made and printed, good for this run only.
 */
import { randomBytes } from 'node:crypto';
import { AgentClient } from '../client';
import { codecFromEnv } from '../codec';
import { loadConfig } from '../config';
import { operatorsFile } from '../cli/operators';
import { createOidcLogin } from './identity/oidc';
import { OperatorStore } from './identity/operator-store';
import { createOpsServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const token = config.OPS_TOKEN ?? randomBytes(24).toString('base64url');
  const agent = await AgentClient.fromConfig(config);
  const publicUrl = config.OPS_PUBLIC_URL ?? `http://${config.OPS_HOST}:${config.OPS_PORT}`;
  const oidc =
    config.OPS_OIDC_ISSUER && config.OPS_OIDC_CLIENT_ID
      ? await createOidcLogin({
          issuer: config.OPS_OIDC_ISSUER,
          clientId: config.OPS_OIDC_CLIENT_ID,
          clientSecret: config.OPS_OIDC_CLIENT_SECRET,
          publicUrl,
          nameClaim: config.OPS_OIDC_NAME_CLAIM,
          roleClaim: config.OPS_OIDC_ROLE_CLAIM,
          groupsClaim: config.OPS_OIDC_GROUPS_CLAIM,
          defaultRole: config.OPS_OIDC_DEFAULT_ROLE,
          // An http issuer only on this machine (a local provider); anywhere else it must be https.
          allowHttp: /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(config.OPS_OIDC_ISSUER),
        })
      : undefined;
  const app = await createOpsServer({
    agent,
    token,
    namespace: config.TEMPORAL_NAMESPACE,
    logger: false,
    codec: codecFromEnv(config.AGENT_ENCRYPTION_KEYS, config.AGENT_ENCRYPTION_KEY_ID),
    codecCorsOrigin: config.AGENT_CODEC_CORS_ORIGIN,
    trustedProxies: config.OPS_TRUSTED_PROXIES,
    feed: { maxStreamsPerCaller: config.OPS_MAX_STREAMS_PER_CALLER },
    identity: {
      operators: new OperatorStore(config.OPS_OPERATORS_FILE ?? operatorsFile()),
      publicUrl: config.OPS_PUBLIC_URL,
      oidc,
    },
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
