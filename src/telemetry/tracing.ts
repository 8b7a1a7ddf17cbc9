// OpenTelemetry tracing: starts the Node SDK with an OTLP/HTTP (JSON) span exporter only when
// OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; otherwise no SDK is loaded and
// the API's no-op tracer is used, so tracing off costs nothing but a few no-op calls per task.

import { createRequire } from 'node:module';
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';

export type TracingEnv = Readonly<Record<string, string | undefined>>;

export interface Tracing {
  readonly tracer: Tracer;
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Flushes pending spans and unregisters the SDK; safe to call when disabled. */
  shutdown(): Promise<void>;
}

const TRACER_NAME = 'orchqueue';

/** The OTLP/HTTP traces URL the environment asks for, per the OTel exporter spec. */
export function tracesEndpoint(env: TracingEnv): string | undefined {
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (signal) return signal;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

export function startTracing(env: TracingEnv): Tracing {
  const url = tracesEndpoint(env);
  if (url === undefined || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    return { tracer: trace.getTracer(TRACER_NAME), enabled: false, shutdown: async () => {} };
  }
  // Required lazily (both are CommonJS) so a gateway without tracing never loads the SDK and
  // its exporters; the casts restore the types `require` cannot know.
  const require = createRequire(import.meta.url);
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'orchqueue',
    traceExporter: new OTLPTraceExporter({ url }),
    // Traces only: metrics go through Prometheus and logs through pino, so neither the
    // SDK's env-driven metric readers nor its log exporters may start.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer(TRACER_NAME),
    enabled: true,
    async shutdown() {
      await sdk.shutdown();
      // The SDK registers process-wide API globals; release them so a restart can register again.
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
