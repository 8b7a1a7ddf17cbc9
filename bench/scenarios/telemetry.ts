// Scenario "telemetry": what do Prometheus metrics and OpenTelemetry tracing cost in gateway
// throughput, next to both off? Metrics are checked by scraping /metrics; tracing by spans
// reaching a loopback OTLP receiver. A switch that does nothing yet is reported, not measured.

import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { medianRound } from '../compare.ts';
import { METRICS_OFF, SHIPPED_DEFAULTS } from '../gateway-config.ts';
import { startOtlpSink } from '../otlp-sink.ts';
import { verdictOf, type BenchContext, type Scenario, type TargetCheck } from '../scenario.ts';
import type { Service } from '../services.ts';
import { round } from '../stats.ts';
import { checkOf } from '../targets.ts';
import { describeShare, noneMeasured, runVariants, saturationTable, SATURATION_NOTE, shareRounds, type Variant } from '../gateway-variants.ts';

async function scrape(gateway: Service): Promise<{ status: number; orchqueueSeries: boolean }> {
  try {
    const res = await request(`${gateway.url}/metrics`, { method: 'GET', headersTimeout: 5_000, bodyTimeout: 5_000 });
    const text = await res.body.text();
    return { status: res.statusCode, orchqueueSeries: /^orchqueue_/m.test(text) };
  } catch {
    return { status: 0, orchqueueSeries: false };
  }
}

/** Waits for the first OTLP export; the SDK's batch processor exports every 5 s by default. */
async function spansArrive(count: () => number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (count() > 0) return true;
    await sleep(100);
  }
  return count() > 0;
}

export const telemetryScenario: Scenario = {
  name: 'telemetry',
  question: 'What do metrics and tracing cost in gateway throughput, next to both off?',
  async run(ctx: BenchContext) {
    const sink = await startOtlpSink();
    const notes = [SATURATION_NOTE, 'Every variant runs the shipped defaults otherwise (audit on the embedded PGlite): "metrics on" is the defaults as shipped.'];
    let metricsOffServes = false;
    const variants: Variant[] = [
      {
        name: 'metrics off',
        options: METRICS_OFF,
        unavailable: async (gw) => {
          metricsOffServes = (await scrape(gw)).orchqueueSeries;
          return undefined;
        },
      },
      {
        name: 'metrics on',
        options: SHIPPED_DEFAULTS,
        unavailable: async (gw) => {
          const s = await scrape(gw);
          return s.orchqueueSeries ? undefined : `GET /metrics answered ${s.status || 'nothing'} without orchqueue_ series: metrics are not wired into the gateway yet`;
        },
      },
      {
        name: 'metrics + tracing',
        options: SHIPPED_DEFAULTS,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url },
        unavailable: async () =>
          (await spansArrive(sink.requests, 6_500)) ? undefined : 'no OTLP export reached the receiver within 6.5 s of load with OTEL_EXPORTER_OTLP_ENDPOINT set: tracing is not wired into the gateway yet',
      },
    ];
    let outcome;
    try {
      outcome = await runVariants(ctx, 'telemetry', variants, { flow: false });
      await outcome.gateways.get('metrics + tracing')?.child.stop();
    } finally {
      await ctx.procs.stopAll();
      await sink.close();
    }
    const measured = outcome.saturation.map((r) => r.name).filter((n) => n !== 'metrics off');
    if (measured.length === 0) return noneMeasured(outcome);
    if (metricsOffServes) notes.push('With telemetry.metrics false the gateway still served orchqueue_ series on /metrics: the "off" baseline may not be fully off.');
    if (outcome.saturation.some((r) => r.name === 'metrics + tracing')) notes.push(`Tracing exported to a loopback OTLP/HTTP receiver that accepts everything: ${sink.requests()} export requests, ${round(sink.bytes() / 1e6)} MB in this scenario (default batch span processor settings).`);
    const shares = shareRounds(outcome.saturation, 'metrics on', 'metrics off');
    const targets: TargetCheck[] = [checkOf('telemetry.metrics', describeShare(shares), verdictOf(shares, (s) => s >= 0.97))];
    const traced = shareRounds(outcome.saturation, 'metrics + tracing', 'metrics off');
    if (traced.length > 0) notes.push(`Metrics and tracing together keep ${describeShare(traced)} of the throughput with both off (issue #5 sets no number for tracing).`);
    return {
      status: 'ok',
      tables: [saturationTable('Saturation: gateway throughput with metrics and tracing on and off', outcome, 'metrics off')],
      targets,
      notes,
      data: { saturation: outcome.saturation.map((r) => ({ ...r, median: medianRound(r) })), unavailable: outcome.unavailable, otlpRequests: sink.requests(), otlpBytes: sink.bytes() },
    };
  },
};
