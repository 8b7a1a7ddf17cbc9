// Fan-out of lifecycle facts to every observer (audit, metrics, logs, traces). An observer
// that throws is a bug; it is logged and the others still run.

import type { Logger } from 'pino';
import type { LifecycleObserver } from '../core/observer.ts';

type Method = keyof LifecycleObserver;
const METHODS: Method[] = ['admitted', 'rejected', 'placed', 'firstToken', 'finished', 'control', 'streamOpened', 'streamClosed'];

export function fanOut(observers: readonly LifecycleObserver[], logger: Logger): LifecycleObserver {
  const out: LifecycleObserver = {};
  for (const method of METHODS) {
    const targets = observers.filter((o) => typeof o[method] === 'function');
    if (targets.length === 0) continue;
    (out as Record<Method, (fact: unknown) => void>)[method] = (fact: unknown) => {
      for (const target of targets) {
        try {
          (target[method] as (fact: unknown) => void).call(target, fact);
        } catch (err) {
          logger.error({ err, observer_method: method }, 'lifecycle observer failed');
        }
      }
    };
  }
  return out;
}
