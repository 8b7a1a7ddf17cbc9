// Startup exposure rule (issue 10 finding 4): on a non-loopback address the control plane
// (drain, reload, audit) must not be open to anyone unless the operator says so explicitly
// (`server.allow_open` / `--insecure`). Pure: main.ts prints the refusal or logs the warning.

import { isIP } from 'node:net';
import type { Config } from './schema.ts';

export type Exposure = { ok: true; warnings: string[] } | { ok: false; problem: string };

/** True only for addresses that cannot be reached from another host. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare.startsWith('::ffff:127.');
}

export function checkExposure(config: Config): Exposure {
  const { host, allow_open } = config.server;
  if (isLoopbackHost(host)) return { ok: true, warnings: [] };
  const warnings: string[] = [];
  if (config.auth.data_tokens.length === 0 && config.auth.control_tokens.length === 0) {
    warnings.push(`the data plane is open to anyone who can reach ${host} (auth.data_tokens is empty)`);
  }
  if (config.auth.control_tokens.length > 0) return { ok: true, warnings };
  if (!allow_open) {
    return {
      ok: false,
      problem:
        `refusing to listen on ${host} with an open control plane (auth.control_tokens is empty): anyone could drain pools and read the audit log. ` +
        'Set auth.control_tokens, bind to 127.0.0.1, or accept the risk with --insecure / server.allow_open: true',
    };
  }
  warnings.push(`the control plane is open to anyone who can reach ${host} (server.allow_open / --insecure)`);
  return { ok: true, warnings };
}
