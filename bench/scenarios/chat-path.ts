// Scenario "chat-path" (issue 11): what does the OpenAI front door add over talking to the
// engine's own chat endpoint? The same OpenAI chat streaming request goes to llama-server's
// `/v1/chat/completions` (the llama.cpp fake), through a bare proxy, and through the gateway's
// `/v1/chat/completions` (normalizer, admission, queue, audit, the llama.cpp adapter's chat path).

import { compareArms, hopMicrosPerToken, medianRound, otherOutcomes, type Arm } from '../compare.ts';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool } from '../paths.ts';
import type { BenchContext, Scenario } from '../scenario.ts';
import { startGateway, startProxy, startSimulator, waitGatewayIdle } from '../services.ts';
import { ratio, round } from '../stats.ts';
import { openAiChatProtocol } from '../stream-client.ts';

const CONCURRENCY = 64;
const MAX_TOKENS = 32;
const TOKENS_PER_S = 50;

export const chatPathScenario: Scenario = {
  name: 'chat-path',
  question: `At ${TOKENS_PER_S} tokens/s per stream and ${CONCURRENCY} streams, what does the gateway's OpenAI chat front door add over the engine's own chat endpoint?`,
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim-chat', { tokensPerS: TOKENS_PER_S, slots: 128 });
    const proxy = await startProxy(ctx.procs, sim.url);
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 128, maxQueued: 256 });
    const gateway = await startGateway(ctx, { name: 'gateway-chat', config: gatewayConfig([pool]) });
    const target = (name: string, url: string) => ({ name, url, protocol: openAiChatProtocol, model: 'bench' });
    const arms: Arm[] = [
      { name: 'direct', target: target('direct', sim.url), pool: clientPool(sim.url, CONCURRENCY) },
      { name: 'proxy', target: target('proxy', proxy.url), pool: clientPool(proxy.url, CONCURRENCY), hopPid: proxy.child.pid },
      { name: 'gateway', target: target('gateway', gateway.url), pool: clientPool(gateway.url, CONCURRENCY), hopPid: gateway.child.pid, settle: () => waitGatewayIdle(gateway.url) },
    ];
    const timing = { ...ctx.timing, warmupMs: Math.max(ctx.timing.warmupMs, 1_500), measureMs: Math.max(ctx.timing.measureMs, 3_000) };
    let results;
    try {
      results = await compareArms({ ...ctx, timing }, 'chat-path', arms, { concurrency: CONCURRENCY, maxTokens: MAX_TOKENS, pids: { sim: sim.child.pid } });
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
        round(w.ttftMs.p50 - direct.ttftMs.p50),
        round(w.gapMs.p99),
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
          title: `OpenAI chat front door vs the engine's chat endpoint (${CONCURRENCY} streams × ${MAX_TOKENS} tokens at ${TOKENS_PER_S} tokens/s)`,
          columns: ['path', 'tokens/s', 'vs direct', 'TTFT p50 ms', 'added TTFT p50 ms', 'gap p99 ms', 'added gap p99 ms', 'hop CPU µs/token', 'hop CPU vs proxy', 'other outcomes'],
          rows,
        },
      ],
      targets: [],
      notes: [
        'All three paths speak the same OpenAI chat streaming request with `stream_options.include_usage`; the gateway pool is one `llamacpp` replica (128 slots) whose adapter uses the engine\'s chat endpoint. The bare proxy is the floor for an extra Node hop.',
        'Issue #11 asks for this row and sets no number for it.',
      ],
      data: { concurrency: CONCURRENCY, maxTokens: MAX_TOKENS, tokensPerS: TOKENS_PER_S, results: results.map((r) => ({ ...r, median: medianRound(r) })) },
    };
  },
};
