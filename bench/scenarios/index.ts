// The scenarios of `npm run bench`, in the order a full run executes them.

import type { Scenario } from '../scenario.ts';
import { auditScenario } from './audit.ts';
import { backpressureScenario } from './backpressure.ts';
import { burstMemoryScenario } from './burst-memory.ts';
import { chatPathScenario } from './chat-path.ts';
import { clusterScenario } from './cluster.ts';
import { llamacppPathScenario } from './llamacpp-path.ts';
import { openStreamsScenario } from './open-streams.ts';
import { predictionsScenario } from './predictions.ts';
import { soakScenario } from './soak.ts';
import { telemetryScenario } from './telemetry.ts';
import { throughputScenario } from './throughput.ts';
import { ttftScenario } from './ttft.ts';

export const SCENARIOS: readonly Scenario[] = [ttftScenario, throughputScenario, backpressureScenario, auditScenario, telemetryScenario, llamacppPathScenario, chatPathScenario, predictionsScenario, burstMemoryScenario, openStreamsScenario, clusterScenario, soakScenario];
