// The docker-compose `cluster` profile, checked without a Docker engine: three gateway replicas of
// one config on backend redis with one Redis, one Postgres and distinct replica ids, nginx in
// front listing all three with stream-friendly settings, start order by health, and the default
// stack left as it was (docs/operations.md "Running several replicas").

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { checkExposure } from '../../src/config/exposure.ts';
import { applyEnv, readConfigFile, validateConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';

const repo = (path: string) => new URL(`../../${path.replace(/^\.\//, '')}`, import.meta.url);
const read = (path: string) => readFileSync(repo(path), 'utf8');

interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
}
const services = (parseYaml(read('docker-compose.yml')) as { services: Record<string, Service> }).services;
const inCluster = Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster'));
const gatewayNames = inCluster.map(([name]) => name).filter((name) => name.startsWith('gateway-')).sort();
const gateways = gatewayNames.map((name) => services[name] as Service);
const lb = services.lb as Service;
const redis = services.redis as Service;

/** `${VAR:-default}` → default, as compose interpolates it with VAR unset. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
const envOf = (s: Service) => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
const mountSource = (s: Service, target: string) => s.volumes?.map((v) => v.split(':')).find(([, t]) => t === target)?.[0];

async function loadedConfig(s: Service): Promise<Config> {
  const env = envOf(s);
  const source = mountSource(s, env.ORCHQUEUE_CONFIG ?? '');
  expect(source, 'ORCHQUEUE_CONFIG is mounted').toBeDefined();
  const result = validateConfig(applyEnv(await readConfigFile(repo(source ?? '').pathname), env));
  expect(result.ok ? [] : result.problems).toEqual([]);
  if (!result.ok) throw new Error('invalid config');
  return result.config;
}

/** nginx directives of one block (`upstream orchqueue`, `location /`): name → argument lists. */
function nginxBlock(text: string, header: string): Map<string, string[][]> {
  const clean = text.replace(/#.*$/gm, '');
  const start = clean.indexOf(`${header} {`);
  expect(start, header).toBeGreaterThanOrEqual(0);
  let depth = 0;
  let end = start;
  for (let i = clean.indexOf('{', start); i < clean.length; i++) {
    if (clean[i] === '{') depth++;
    if (clean[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  const body = clean.slice(clean.indexOf('{', start) + 1, end);
  const directives = new Map<string, string[][]>();
  for (const statement of body.split(';')) {
    const words = statement.trim().match(/"[^"]*"|\S+/g);
    if (!words || words[0]?.includes('{')) continue;
    const [name = '', ...args] = words;
    directives.set(name, [...(directives.get(name) ?? []), args]);
  }
  return directives;
}

/** nginx time (`1h`, `75s`, `500ms`, bare seconds) in ms. */
function nginxMs(value: string | undefined): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value ?? '');
  if (!m) return Number.NaN;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number;
  return Number(m[1]) * unit;
}

const nginxConf = () => read(mountSource(lb, '/etc/nginx/nginx.conf') ?? 'missing');

describe('docker-compose.yml profile "cluster"', () => {
  it('adds three gateways, Redis and a load balancer, and nothing to the default stack', () => {
    expect(inCluster.map(([name]) => name).sort()).toEqual(['gateway-1', 'gateway-2', 'gateway-3', 'lb', 'redis']);
    const byDefault = Object.entries(services).filter(([, s]) => s.profiles === undefined);
    expect(byDefault.map(([name]) => name).sort()).toEqual(['gateway', 'grafana', 'llamacpp', 'postgres', 'prometheus']);
    for (const [name, s] of byDefault) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(services[dep]?.profiles, `${name} depends on ${dep}`).toBeUndefined();
    }
    expect(mountSource(services.gateway as Service, '/etc/orchqueue/orchqueue.yaml')).toBe('./deploy/orchqueue.yaml');
  });

  it('runs one image and one config file on every replica, differing only in ORCHQUEUE_REPLICA_ID', () => {
    const [first, ...rest] = gateways as [Service, ...Service[]];
    const { ORCHQUEUE_REPLICA_ID: _id, ...shared } = envOf(first);
    for (const g of rest) {
      const { ORCHQUEUE_REPLICA_ID: _other, ...env } = envOf(g);
      expect(env).toEqual(shared);
      expect({ ...g, environment: undefined }).toEqual({ ...first, environment: undefined });
    }
    expect(shared).toMatchObject({ REDIS_URL: expect.stringMatching(/^redis:\/\/redis:\d+\/\d+$/), DATABASE_URL: expect.stringContaining('@postgres:') });
    const ids = gateways.map((g) => envOf(g).ORCHQUEUE_REPLICA_ID);
    expect(new Set(ids).size).toBe(3);
    expect(ids).toEqual(gatewayNames);
  });

  it('gives every replica backend redis on the compose Redis with one key prefix, its own replica id and the shared Postgres', async () => {
    const configs = await Promise.all(gateways.map(loadedConfig));
    const redisPort = redis.command?.[(redis.command?.indexOf('--port') ?? -2) + 1];
    for (const [i, config] of configs.entries()) {
      expect(config.state.backend).toBe('redis');
      expect(new URL(config.state.url ?? '').host).toBe(`redis:${redisPort}`);
      expect(config.state.replica_id).toBe(gatewayNames[i]);
      expect(config.audit.backend).toBe('postgres');
      expect(new URL(config.audit.database_url ?? '').hostname).toBe('postgres');
      expect(checkExposure(config).ok).toBe(true);
    }
    expect(new Set(configs.map((c) => c.state.key_prefix)).size).toBe(1);
    expect(new Set(configs.map((c) => c.state.url)).size).toBe(1);
    expect(new Set(configs.map((c) => JSON.stringify(c.pools))).size).toBe(1);
    // Behind the balancer every client shares its address: the per-client cap is not a per-client cap there.
    for (const config of configs) expect(config.server.max_connections_per_client).toBe(config.server.max_connections);
  });

  it('runs Redis without eviction, and starts the gateways after Redis and Postgres are healthy', () => {
    expect(redis.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction']));
    expect(redis.healthcheck?.test.join(' ')).toContain('ping');
    for (const [i, g] of gateways.entries()) {
      expect(g.ports, gatewayNames[i]).toBeUndefined();
      expect(g.depends_on).toMatchObject({ redis: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } });
      expect(g.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${envOf(g).PORT}/healthz`);
    }
  });

  it('puts nginx in front of all three replicas on their port, published on loopback only', () => {
    for (const name of gatewayNames) expect(lb.depends_on?.[name]).toEqual({ condition: 'service_healthy' });
    const upstream = nginxBlock(nginxConf(), 'upstream orchqueue');
    const servers = (upstream.get('server') ?? []).map((args) => args[0]);
    expect(servers).toEqual(gatewayNames.map((name) => `${name}:${envOf(services[name] as Service).PORT}`));
    expect(Number(upstream.get('keepalive')?.[0]?.[0])).toBeGreaterThan(0);
    const listen = nginxBlock(nginxConf(), 'server').get('listen')?.[0]?.[0];
    expect(lb.ports).toEqual([`127.0.0.1:8090:${listen}`]);
  });

  it('proxies with stream-friendly settings: HTTP/1.1 keepalive upstream, no buffering, read timeouts far above the heartbeat, no POST retried', async () => {
    const location = nginxBlock(nginxConf(), 'location /');
    const one = (name: string) => location.get(name)?.[0]?.join(' ');
    expect(one('proxy_pass')).toBe('http://orchqueue');
    expect(one('proxy_http_version')).toBe('1.1');
    expect(location.get('proxy_set_header')).toContainEqual(['Connection', '""']);
    expect(one('proxy_buffering')).toBe('off');
    expect(one('proxy_cache')).toBe('off');
    const heartbeatMs = (await loadedConfig(gateways[0] as Service)).server.heartbeat_ms;
    expect(nginxMs(one('proxy_read_timeout'))).toBeGreaterThanOrEqual(10 * heartbeatMs);
    expect(nginxMs(one('proxy_send_timeout'))).toBeGreaterThanOrEqual(10 * heartbeatMs);
    // `non_idempotent` would let nginx send a submit to a second replica after the first got it.
    expect(one('proxy_next_upstream') ?? '').not.toContain('non_idempotent');
  });
});
