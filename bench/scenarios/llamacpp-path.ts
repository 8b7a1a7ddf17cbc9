// Scenario "llamacpp-path": at a realistic engine pace, does a stream through the gateway's
// llama.cpp adapter arrive like one straight from llama-server — same rate, first token and
// token gaps — and what CPU does the gateway spend per token to get there?

import { compareArms, hopMicrosPerToken, medianRound, otherOutcomes, type Arm } from '../compare.ts';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool } from '../paths.ts';
import type { BenchContext, Scenario } from '../scenario.ts';
import { startGateway, startProxy, startSimulator, waitGatewayIdle } from '../services.ts';
import { ratio, round } from '../stats.ts';
import { llamacppProtocol, orchqueueProtocol } from '../stream-client.ts';

const CONCURRENCY = 64;
const MAX_TOKENS = 50;
const TOKENS_PER_S = 50;

export const llamacppPathScenario: Scenario = {
  name: 'llamacpp-path',
  question: `At ${TOKENS_PER_S} tokens/s per stream and ${CONCURRENCY} streams, how does the gateway's llama.cpp adapter path compare with talking to llama-server directly?`,
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: TOKENS_PER_S, slots: 128 });
    const proxy = await startProxy(ctx.procs, sim.url);
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 128, maxQueued: 256 });
    const gateway = await startGateway(ctx, { name: 'gateway-llamacpp', config: gatewayConfig([pool]) });
    const arms: Arm[] = [
      { name: 'direct', target: { name: 'direct', url: sim.url, protocol: llamacppProtocol, model: 'bench' }, pool: clientPool(sim.url, CONCURRENCY) },
      { name: 'proxy', target: { name: 'proxy', url: proxy.url, protocol: llamacppProtocol, model: 'bench' }, pool: clientPool(proxy.url, CONCURRENCY), hopPid: proxy.child.pid },
      { name: 'gateway', target: { name: 'gateway', url: gateway.url, protocol: orchqueueProtocol, model: 'bench' }, pool: clientPool(gateway.url, CONCURRENCY), hopPid: gateway.child.pid, settle: () => waitGatewayIdle(gateway.url) },
    ];
    // Streams last MAX_TOKENS / TOKENS_PER_S seconds: the window must hold a few of them.
    const timing = { ...ctx.timing, warmupMs: Math.max(ctx.timing.warmupMs, 1_500), measureMs: Math.max(ctx.timing.measureMs, 3_000) };
    let results;
    try {
      results = await compareArms({ ...ctx, timing }, 'llamacpp-path', arms, { concurrency: CONCURRENCY, maxTokens: MAX_TOKENS, pids: { sim: sim.child.pid } });
    } finally {
      await Promise.all(arms.map((a) => a.pool.close()));
    }
    const direct = medianRound(results.find((r) => r.name === 'direct') ?? (results[0] as (typeof results)[number]));
    const proxyW = results.find((r) => r.name === 'proxy');
    const proxyCpu = proxyW ? hopMicrosPerToken(medianRound(proxyW)) : Number.NaN;
    const rows = results.map((r) => {
      const w = medianRound(r);
      return [
        r.name,
        round(w.tokensPerS),
        round(ratio(w.tokensPerS, direct.tokensPerS)),
        round(w.ttftMs.p50),
        round(w.ttftMs.p99),
        round(w.ttftMs.p50 - direct.ttftMs.p50),
        round(w.gapMs.p50),
        round(w.gapMs.p99),
        round(w.gapMs.max),
        round(w.gapMs.p99 - direct.gapMs.p99),
        round(hopMicrosPerToken(w)),
        round(ratio(hopMicrosPerToken(w), proxyCpu)),
        otherOutcomes(r.rounds),
      ];
    });
    return {
      status: 'ok',
      tables: [
        {
          title: `llama.cpp adapter path vs direct (${CONCURRENCY} streams × ${MAX_TOKENS} tokens at ${TOKENS_PER_S} tokens/s)`,
          columns: ['path', 'tokens/s', 'vs direct', 'TTFT p50 ms', 'TTFT p99 ms', 'added TTFT p50 ms', 'gap p50 ms', 'gap p99 ms', 'gap max ms', 'added gap p99 ms', 'hop CPU µs/token', 'hop CPU vs proxy', 'other outcomes'],
          rows,
        },
      ],
      targets: [],
      notes: [
        `The simulator (the llama.cpp fake) paces every stream at ${TOKENS_PER_S} tokens/s (nominal gap ${1000 / TOKENS_PER_S} ms) with no first-token delay; the gateway pool is one \`llamacpp\` replica with 128 slots. At this pace no path should be saturated, so "vs direct" should be ≈ 1 and the interesting figures are the added TTFT and gaps. The bare proxy is the floor for an extra Node hop; "hop CPU vs proxy" is the gateway's CPU per token over the proxy's.`,
        'Issue #3 asks for this row and sets no number for it.',
      ],
      data: { concurrency: CONCURRENCY, maxTokens: MAX_TOKENS, tokensPerS: TOKENS_PER_S, results: results.map((r) => ({ ...r, median: medianRound(r) })) },
    };
  },
};
