import { describe, expect, it } from 'vitest';
import { TenantLabels } from './tenant-labels.ts';

const tenants = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);

describe('TenantLabels', () => {
  it('labels the first max tenants seen by id and the next one other', () => {
    const labels = new TenantLabels({ listed: [], max: 20 });
    expect(tenants(20).map((t) => labels.of(t))).toEqual(tenants(20));
    expect(labels.of('t20')).toBe('other');
    expect(labels.of('t21')).toBe('other');
    expect(labels.of('t3')).toBe('t3'); // a labelled tenant keeps its value
  });

  it('always labels listed tenants by id, even when they are seen after the slots filled', () => {
    const labels = new TenantLabels({ listed: ['gold', 'silver'], max: 3 });
    expect(labels.of('walk-in')).toBe('walk-in');
    expect(labels.of('late')).toBe('other');
    expect(labels.of('silver')).toBe('silver');
    expect(labels.of('gold')).toBe('gold');
  });

  it('labels work with no known tenant none, and every tenant other with max 0', () => {
    expect(new TenantLabels({ listed: [], max: 5 }).of(undefined)).toBe('none');
    expect(new TenantLabels({ listed: [], max: 0 }).of('acme')).toBe('other');
  });

  it('treats more listed tenants than the budget as a wiring bug', () => {
    expect(() => new TenantLabels({ listed: ['a', 'b'], max: 1 })).toThrow(RangeError);
  });
});
