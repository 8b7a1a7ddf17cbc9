// Health of a hosted provider (issue 13, docs/providers.md): there is no engine to probe, so a
// replica is ready when its key resolves and, with `health_check: models`, the provider's model
// listing answers 200 with that key (free on every provider we speak). A missing key, a refused
// key or an unreachable API makes it not ready with a reason that never holds the key.

import { EngineError, type EngineHealth } from '../contract.ts';
import type { JsonResponse, Upstream } from '../../transport/http-agent.ts';
import type { BackoffPolicy } from '../retry.ts';
import { createProber } from './probe.ts';
import { describeRef, resolveCredential, type CredentialRef } from './credentials.ts';

export interface ProviderProbe {
  upstream: Upstream;
  apiKey: CredentialRef;
  check: 'models' | 'credential';
  modelsPath: string;
  /** The request headers for a GET with this key. */
  headersFor(key: string): Record<string, string>;
  backoff: BackoffPolicy;
  /** Sees the listing's headers (rate-limit budgets ride on every answer). */
  onResponse(res: JsonResponse): void;
}

export async function providerHealth(probe: ProviderProbe, signal: AbortSignal): Promise<EngineHealth> {
  const key = await resolveCredential(probe.apiKey);
  if (!key.ok) return { live: true, ready: false, detail: key.reason };
  if (probe.check === 'credential') return { live: true, ready: true };
  // health() reports transport failures itself and never maps an error.
  const prober = createProber(probe.upstream, probe.headersFor(key.value), probe.backoff, (err) => new EngineError('ENGINE_ERROR', 'provider probe failed', { cause: err }));
  return prober.health(probe.modelsPath, signal, (res) => {
    probe.onResponse(res);
    if (res.status === 200) return { live: true, ready: true };
    if (res.status === 401 || res.status === 403) {
      return { live: true, ready: false, detail: `the provider refused the API key from ${describeRef(probe.apiKey)} (HTTP ${res.status})` };
    }
    // A spent rate limit is not a broken replica: admission and dispatch handle budgets.
    if (res.status === 429) return { live: true, ready: true, detail: 'the provider rate limit is spent' };
    return { live: true, ready: false, detail: `the provider model listing answered HTTP ${res.status}` };
  });
}
