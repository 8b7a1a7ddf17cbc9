// The task state machine: every (state, event) pair as a table, then thousands of seeded random
// event sequences checked against the lifecycle's invariants (one ending, no way out of it).
import { describe, expect, it } from 'vitest';
import { isFinalState, TASK_STATES, TERMINAL_STATES, transition, type LifecycleEvent, type TaskState } from './lifecycle.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const EVENTS: readonly LifecycleEvent[] = [
  { type: 'place' },
  { type: 'requeue' },
  ...TERMINAL_STATES.map((state): LifecycleEvent => ({ type: 'end', state })),
];

const label = (e: LifecycleEvent): string => (e.type === 'end' ? `end(${e.state})` : e.type);

/** The legal moves, written out by hand: anything not listed here must be refused. */
const LEGAL: Readonly<Record<TaskState, Readonly<Record<string, TaskState>>>> = {
  queued: { place: 'running', 'end(canceled)': 'canceled', 'end(failed)': 'failed', 'end(expired)': 'expired', 'end(evicted)': 'evicted' },
  running: { requeue: 'queued', 'end(completed)': 'completed', 'end(canceled)': 'canceled', 'end(failed)': 'failed', 'end(expired)': 'expired' },
  completed: {},
  canceled: {},
  failed: {},
  expired: {},
  evicted: {},
  abandoned: {},
};

const PAIRS = TASK_STATES.flatMap((from) => EVENTS.map((event) => ({ from, event, to: LEGAL[from][label(event)] })));

// ORCH-0114
describe('transition', () => {
  it('covers every state and event in the table', () => {
    expect(PAIRS).toHaveLength(TASK_STATES.length * (2 + TERMINAL_STATES.length));
  });

  it.each(PAIRS.filter((p) => p.to !== undefined).map((p) => [p.from, label(p.event), p.to, p.event] as const))(
    'moves a %s task on %s to %s',
    (from, _event, to, event) => {
      expect(transition(from, event)).toEqual({ ok: true, state: to });
    },
  );

  it.each(PAIRS.filter((p) => p.to === undefined).map((p) => [p.from, label(p.event), p.event] as const))(
    'refuses %s on %s with a typed illegal transition',
    (from, _event, event) => {
      expect(transition(from, event)).toEqual({
        ok: false,
        illegal: { from, event: event.type, ...(event.type === 'end' ? { to: event.state } : {}) },
      });
    },
  );

  it('calls exactly the five ending states terminal', () => {
    expect(TASK_STATES.filter(isFinalState)).toEqual([...TERMINAL_STATES, 'abandoned']);
  });
});

describe('transition under random event sequences', () => {
  const SEEDS = 4_000;
  const LENGTH = 24;

  it(`keeps the lifecycle's invariants over ${SEEDS} seeded sequences of ${LENGTH} events`, () => {
    const reached = new Set<TaskState>();
    const violations: string[] = [];
    let accepted = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const random = seededRandom(seed);
      let state: TaskState = 'queued';
      let endings = 0;
      const trail: LifecycleEvent[] = [];
      const broken = (rule: string) => violations.push(`seed ${seed}: ${rule} after ${trail.map(label).join(' → ')}`);
      for (let step = 0; step < LENGTH; step++) {
        const event = EVENTS[Math.floor(random() * EVENTS.length)] as LifecycleEvent;
        trail.push(event);
        const next = transition(state, event);
        if (!next.ok) {
          if (next.illegal.from !== state) broken('an illegal transition names another state');
          continue;
        }
        accepted++;
        if (isFinalState(state)) broken('left a terminal state');
        if (isFinalState(next.state) && ++endings > 1) broken('accepted a second terminal transition');
        if (next.state === 'completed' && state !== 'running') broken('completed from outside running');
        if (next.state === 'evicted' && state !== 'queued') broken('evicted from outside queued');
        if (event.type === 'requeue' && !(state === 'running' && next.state === 'queued')) broken('requeue other than running → queued');
        if (event.type === 'place' && !(state === 'queued' && next.state === 'running')) broken('place other than queued → running');
        if (event.type === 'end' && next.state !== event.state) broken('ended in another state than asked');
        state = next.state;
        reached.add(state);
      }
    }
    expect(violations).toEqual([]);
    // The generator really explored the machine: every state was entered (queued again by requeue).
    // Every state but `abandoned`, which only the audit records (no transition reaches it).
    expect([...reached].sort()).toEqual(TASK_STATES.filter((s) => s !== 'abandoned').sort());
    expect(accepted).toBeGreaterThan(SEEDS);
  });
});
