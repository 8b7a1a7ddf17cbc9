// What can be checked of the deployment files without a Docker engine: the compose file parses,
// everything it builds or mounts exists, the gateway's environment is the documented one, its
// config file is valid, Prometheus scrapes the gateway and Grafana finds the dashboard.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { checkExposure } from '../../src/config/exposure.ts';
import { applyEnv, readConfigFile, validateConfig } from '../../src/config/load.ts';

const repo = (path: string) => new URL(`../../${path.replace(/^\.\//, '')}`, import.meta.url);
const read = (path: string) => readFileSync(repo(path), 'utf8');

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, unknown>;
  profiles?: string[];
}
const compose = parseYaml(read('docker-compose.yml')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const gateway = services.gateway as Service;

/** `${VAR:-default}` → default, as compose interpolates it with VAR unset. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
const mounts = (s: Service) => (s.volumes ?? []).map((v) => {
  const [source = '', target = ''] = v.split(':');
  return { source, target, bind: source.startsWith('.') || source.startsWith('/') };
});

/** Environment variables the gateway reads: the config loader's overrides plus OTel's. */
function documentedEnv(): Set<string> {
  const names = new Set<string>();
  for (const m of read('src/config/load.ts').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1] as string);
  for (const m of read('src/telemetry/tracing.ts').matchAll(/\benv\.(OTEL_[A-Z0-9_]+)/g)) names.add(m[1] as string);
  return names;
}

describe('docker-compose.yml', () => {
  it('runs the gateway with Postgres, Prometheus, Grafana and a llama.cpp server', () => {
    // Services of a profile (the `cluster` one: deploy-cluster.test.ts) start only when asked for.
    const byDefault = Object.entries(services).filter(([, s]) => s.profiles === undefined).map(([name]) => name);
    expect(byDefault.sort()).toEqual(['gateway', 'grafana', 'llamacpp', 'postgres', 'prometheus']);
    expect(services.llamacpp?.image).toBe('ghcr.io/ggml-org/llama.cpp:server');
    expect(services.llamacpp?.command).toEqual(expect.arrayContaining(['--metrics', '--parallel', '4']));
  });

  it('names only things that exist: build contexts, bind mounts, volumes and services', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image ?? service.build, name).toBeTruthy();
      if (service.build !== undefined) {
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        expect(statSync(repo(`${build.context}/`)).isDirectory(), name).toBe(true);
        expect(existsSync(repo(`${build.context}/${build.dockerfile ?? 'Dockerfile'}`)), name).toBe(true);
      }
      for (const mount of mounts(service)) {
        if (mount.bind) expect(existsSync(repo(mount.source)), `${name}: ${mount.source}`).toBe(true);
        else expect(compose.volumes, `${name}: volume ${mount.source}`).toHaveProperty(mount.source);
      }
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect(services, `${name} depends on ${dep}`).toHaveProperty(dep);
    }
  });

  it('gives the gateway only environment variables the gateway documents', () => {
    const documented = documentedEnv();
    expect([...documented]).toEqual(expect.arrayContaining(['HOST', 'PORT', 'ORCHQUEUE_CONFIG', 'DATABASE_URL', 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT']));
    for (const key of Object.keys(gateway.environment ?? {})) expect(documented, key).toContain(key);
  });

  it('mounts a gateway config that the config loader accepts and that points at the llama.cpp service', async () => {
    const env = Object.fromEntries(Object.entries(gateway.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
    const mount = mounts(gateway).find((m) => m.target === env.ORCHQUEUE_CONFIG);
    expect(mount, 'ORCHQUEUE_CONFIG is mounted').toBeDefined();
    const result = validateConfig(applyEnv(await readConfigFile(repo(mount?.source ?? '').pathname), env));
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok) return;
    expect(result.config.audit.backend).toBe('postgres');
    expect(result.config.server.port).toBe(Number(env.PORT));
    const llamaArgs = services.llamacpp?.command ?? [];
    const llamaPort = llamaArgs[llamaArgs.indexOf('--port') + 1];
    const urls = result.config.pools.flatMap((p) => p.replicas.map((r) => new URL(r.url ?? 'http://none')));
    expect(urls.map((u) => `${u.hostname}:${u.port}`)).toEqual([`llamacpp:${llamaPort}`]);
    // The stack starts (issue 10 finding 4) only because its open gateway is published on loopback.
    expect(checkExposure(result.config).ok).toBe(true);
    expect(gateway.ports?.map(String)).toEqual(['127.0.0.1:8080:8080']);
  });
});

describe('deploy/prometheus.yml', () => {
  const prometheus = services.prometheus as Service;
  const config = parseYaml(read('deploy/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };

  it('is the file the prometheus service mounts', () => {
    expect(mounts(prometheus).find((m) => m.target === '/etc/prometheus/prometheus.yml')?.source).toBe('./deploy/prometheus.yml');
  });

  it('scrapes the gateway service on its port under job "orchqueue" (the job the alerts use)', () => {
    const job = config.scrape_configs.find((j) => j.job_name === 'orchqueue');
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job?.static_configs.flatMap((s) => s.targets)).toEqual([`gateway:${gateway.environment?.PORT}`]);
    for (const target of config.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets))) {
      expect(services, target).toHaveProperty(target.split(':')[0] as string);
    }
  });

  it('loads the alert rules from where the compose file mounts ci/alerts', () => {
    const rulesDir = mounts(prometheus).find((m) => m.source === './ci/alerts')?.target;
    expect(config.rule_files).toEqual([`${rulesDir}/*.rules.yml`]);
    expect(existsSync(repo('ci/alerts/orchqueue.rules.yml'))).toBe(true);
  });
});

describe('Grafana provisioning', () => {
  it('loads the dashboard directory the compose file mounts, with a Prometheus data source', () => {
    const grafana = services.grafana as Service;
    const provider = parseYaml(read('deploy/grafana/provisioning/dashboards/orchqueue.yml')) as { providers: { options: { path: string } }[] };
    const dashboardsDir = mounts(grafana).find((m) => m.source === './ci/dashboards')?.target;
    expect(provider.providers[0]?.options.path).toBe(dashboardsDir);
    expect(existsSync(repo('ci/dashboards/orchqueue.json'))).toBe(true);
    const ds = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { type: string; url: string }[] };
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? '';

  it('builds in stages on node:24-bookworm-slim and runs src/main.ts as a non-root user', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(stages.length).toBeGreaterThan(1);
    expect(stages.every((s) => s.startsWith('${NODE_IMAGE}'))).toBe(true);
    expect(final).toMatch(/npm ci --omit=dev/);
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/^CMD \["node", "src\/main\.ts"\]$/m);
  });

  it('copies only paths that exist and that .dockerignore lets into the context', () => {
    const allowed = read('.dockerignore').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (m[1] as string).split(/\s+/)) {
        expect(existsSync(repo(source)), source).toBe(true);
        expect(allowed, source).toContain(source);
      }
    }
  });

  it('ships only what runs: src without tests or fixtures, bin, migrations and the package files', () => {
    const shipped = [...final.matchAll(/^COPY (?:--from=\S+ )?(.+) \S+$/gm)].flatMap((m) => (m[1] as string).split(/\s+/));
    expect(shipped.sort()).toEqual(['/app/src', 'bin', 'migrations', 'package-lock.json', 'package.json']);
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/*.test.ts', '**/fixtures/']));
    for (const path of ['test', 'tools', 'bench', 'contracts', 'ci']) expect(ignored, path).not.toContain(`!${path}/`);
  });
});
