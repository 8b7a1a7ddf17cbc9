import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_INPUT, validateConfig } from './load.ts';

const pools = [{ id: 'demo', engine: 'mock', model: 'demo', replicas: [{ id: 'mock-0', slots: 1 }] }];
const withTelemetry = (telemetry: Record<string, unknown>) => validateConfig({ ...DEFAULT_CONFIG_INPUT, pools, telemetry });

describe('validateConfig: the tenant metric label budget', () => {
  it('defaults to 20 tenant labels with none listed', () => {
    const result = withTelemetry({});
    expect(result.ok && result.config.telemetry).toMatchObject({ tenant_labels: [], max_tenant_labels: 20 });
  });

  it('refuses more listed tenants than max_tenant_labels, naming the field', () => {
    const result = withTelemetry({ tenant_labels: ['a', 'b', 'c'], max_tenant_labels: 2 });
    expect(result).toEqual({ ok: false, problems: [expect.stringContaining('/telemetry/tenant_labels')] });
  });

  it.each([
    [{ max_tenant_labels: 101 }, '/telemetry/max_tenant_labels'],
    [{ max_tenant_labels: -1 }, '/telemetry/max_tenant_labels'],
    [{ tenant_labels: ['has space'] }, '/telemetry/tenant_labels/0'],
    [{ tenant_labels: ['a', 'a'] }, '/telemetry/tenant_labels'],
  ])('refuses %j', (telemetry, field) => {
    const result = withTelemetry(telemetry);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join(' ')).toContain(field);
  });
});
