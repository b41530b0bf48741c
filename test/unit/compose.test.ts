/**
 * docker-compose.yml, checked without a Docker engine: `docker-compose config` validates it (with the
 * required variables set, and refusing to run without them), and the parsed file is checked for what
 * the deployment needs.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AGENT_SEARCH_ATTRIBUTES } from '../../src/api/search-attributes';
import { searchAttributeFlags } from '../../src/testing/temporal-env';

const ROOT = join(__dirname, '..', '..');
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { services } = compose;
const composeBin = ['/usr/bin/docker-compose'].find((p) => existsSync(p));

describe('docker-compose.yml', () => {
  (composeBin ? it : it.skip)(
    'is valid for docker-compose config, and demands the API key and the ops token',
    () => {
      const env = { ...process.env, ANTHROPIC_API_KEY: 'sk-test', OPS_TOKEN: '0123456789abcdef0123' };
      const ok = spawnSync(composeBin!, ['config', '-q'], { cwd: ROOT, env, encoding: 'utf8' });
      expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
      const noKey = spawnSync(composeBin!, ['config', '-q'], {
        cwd: ROOT,
        env: { ...env, ANTHROPIC_API_KEY: '' },
        encoding: 'utf8',
      });
      expect(noKey.status).not.toBe(0);
      expect(noKey.stderr).toMatch(/set ANTHROPIC_API_KEY/);
    },
  );

  it('has the whole stack, started in order', () => {
    expect(Object.keys(services).sort()).toEqual([
      'ops',
      'postgresql',
      'temporal',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker',
    ]);
    expect(services['temporal-schema'].depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(services.temporal.depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(services['temporal-namespace'].depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(services.worker.depends_on).toEqual({
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
  });

  it('pins every image version and builds ours from the Dockerfile', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'worker' || name === 'ops') continue;
      expect(service.image).toMatch(/:[^:]+$/);
      expect(service.image).not.toMatch(/:latest$/);
    }
    expect(services.worker.build).toBe('.');
    expect(services.ops.image).toBe(services.worker.image);
    expect(services.worker.command).toEqual(['node', 'dist/worker.js']);
    expect(services.ops.command).toEqual(['node', 'dist/ops/main.js']);
    // What the Dockerfile builds those from.
    expect(existsSync(join(ROOT, 'src/worker.ts')) && existsSync(join(ROOT, 'src/ops/main.ts'))).toBe(true);
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/npm run build/);
  });

  it('keeps the API key in the worker only and binds every port to localhost', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name !== 'worker') expect(service.environment?.ANTHROPIC_API_KEY).toBeUndefined();
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
    expect(services.worker.environment?.ANTHROPIC_API_KEY).toMatch(/ANTHROPIC_API_KEY:\?/);
    expect(services.worker.environment?.AGENT_STREAM_URL).toBe('http://ops:8787');
  });

  it('points the Temporal UI at the ops codec endpoint, and lets only the UI origin call it', () => {
    expect(services['temporal-ui'].environment?.TEMPORAL_CODEC_ENDPOINT).toBe('http://127.0.0.1:8787/codec');
    expect(services.ops.environment?.AGENT_CODEC_CORS_ORIGIN).toBe('http://127.0.0.1:8080');
  });

  it('registers every search attribute the workflow uses, with its type', () => {
    const script = readFileSync(join(ROOT, 'deploy/scripts/setup-namespace.sh'), 'utf8');
    const flags = searchAttributeFlags().filter((f) => f !== '--search-attribute');
    expect(flags).toHaveLength(AGENT_SEARCH_ATTRIBUTES.length);
    for (const flag of flags) expect(script).toContain(flag);
    expect(services['temporal-namespace'].entrypoint).toEqual(['/bin/sh', '/scripts/setup-namespace.sh']);
  });

  it('mounts files that exist', () => {
    for (const service of Object.values(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('./')) expect(existsSync(join(ROOT, source))).toBe(true);
        else expect(Object.keys(compose.volumes)).toContain(source);
      }
    }
    expect(existsSync(join(ROOT, 'deploy/dynamicconfig/production.yaml'))).toBe(true);
    expect(services.temporal.environment?.DYNAMIC_CONFIG_FILE_PATH).toBe(
      'config/dynamicconfig/production.yaml',
    );
  });
});
