import { describe, expect, it } from 'vitest';
import { validateConfig } from './load.ts';

const pool = (id: string, fallbacks?: unknown) => ({ id, engine: 'mock', model: id, replicas: [{ id: 'r0' }], ...(fallbacks !== undefined ? { fallbacks } : {}) });
const problems = (...pools: unknown[]): string[] => {
  const result = validateConfig({ pools });
  return result.ok ? [] : result.problems;
};

describe('pool fallbacks in the configuration (issue 13 item 6)', () => {
  it('accepts an ordered chain of existing pools and defaults to none, without no-capacity fallback', () => {
    const result = validateConfig({ pools: [pool('a', ['b', 'c']), pool('b', ['c']), pool('c')] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.pools.map((p) => p.fallbacks)).toEqual([['b', 'c'], ['c'], []]);
    expect(result.config.pools[0]?.fallback_on_no_capacity).toBe(false);
  });

  it.each([
    ['an unknown pool', [pool('a', ['ghost'])], '/pools/a/fallbacks/0: unknown pool ghost'],
    ['the pool itself', [pool('a', ['a'])], '/pools/a/fallbacks/0: pool a cannot be its own fallback'],
    ['a pool named twice', [pool('a', ['b', 'b']), pool('b')], '/pools/a/fallbacks/1: pool b is named twice'],
    ['a two-pool cycle', [pool('a', ['b']), pool('b', ['a'])], '/pools/a/fallbacks: fallbacks form a cycle (a → b → a)'],
    ['a longer cycle behind a chain', [pool('x', ['a']), pool('a', ['b']), pool('b', ['c']), pool('c', ['a'])], '/pools/x/fallbacks: fallbacks form a cycle (a → b → c → a)'],
  ])('refuses %s, naming the field', (_title, pools, problem) => {
    expect(problems(...pools)).toEqual([problem]);
  });

  it('refuses a fallback that is not a pool id string', () => {
    expect(problems(pool('a', [''])).join()).toMatch(/fallbacks\/0/);
    expect(problems(pool('a', 'b')).join()).toMatch(/fallbacks/);
  });
});
