/** Temporal connection settings through @temporalio/envconfig: defaults, Temporal Cloud, mTLS profiles. */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { temporalConnectOptions } from '../../src/connection';

const home = mkdtempSync(join(tmpdir(), 'envconfig-'));
const options = (env: NodeJS.ProcessEnv) => temporalConnectOptions(loadConfig(env), env);

describe('temporalConnectOptions', () => {
  it('defaults to a local server', () => {
    expect(options({ HOME: home })).toEqual({
      connectionOptions: { address: 'localhost:7233' },
      namespace: 'default',
    });
  });

  it('connects to Temporal Cloud with an API key (TLS on)', () => {
    const o = options({
      HOME: home,
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: 'secret-key',
    });
    expect(o).toEqual({
      connectionOptions: { address: 'ns.acct.tmprl.cloud:7233', apiKey: 'secret-key', tls: true },
      namespace: 'ns.acct',
    });
  });

  it('reads a profile with mTLS from the TOML config file', () => {
    writeFileSync(join(home, 'cert.pem'), 'CERT');
    writeFileSync(join(home, 'key.pem'), 'KEY');
    const file = join(home, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.prod]',
        'address = "prod.example:7233"',
        'namespace = "agents-prod"',
        '[profile.prod.tls]',
        'server_name = "prod.example"',
        `client_cert_path = "${join(home, 'cert.pem')}"`,
        `client_key_path = "${join(home, 'key.pem')}"`,
      ].join('\n'),
    );
    const o = options({ HOME: home, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect(o.namespace).toBe('agents-prod');
    expect(o.connectionOptions.address).toBe('prod.example:7233');
    const tls = o.connectionOptions.tls as {
      serverNameOverride: string;
      clientCertPair: { crt: Uint8Array; key: Uint8Array };
    };
    expect(tls.serverNameOverride).toBe('prod.example');
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toBe('CERT');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toBe('KEY');
  });

  it('fails clearly on a profile that does not exist', () => {
    const file = join(home, 'temporal.toml');
    expect(() => options({ HOME: home, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /nope/,
    );
  });
});
