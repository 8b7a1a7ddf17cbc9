// Which wake-ups call for a claim: a freed slot does not once a claim found the queue empty and
// nothing was queued since; a `queued` heard after that claim was sent, a lost subscription or
// a claim that found work always brings claims back.

import { describe, expect, it } from 'vitest';
import { ClaimWakes } from './claim-wakes.ts';

function subscribed(): ClaimWakes {
  const wakes = new ClaimWakes();
  wakes.subscribed(0);
  return wakes;
}

describe('ClaimWakes', () => {
  it('claims on every wake-up until a claim found the queue empty, then only when a task is queued', () => {
    const wakes = subscribed();
    expect(wakes.heard('p', 'slot')).toBe(true);
    expect(wakes.heard('p', 'queued')).toBe(true);
    wakes.foundEmpty('p', wakes.sending('p'));
    expect(wakes.heard('p', 'slot')).toBe(false);
    expect(wakes.heard('p', 'slot')).toBe(false);
    expect(wakes.heard('p', 'queued')).toBe(true);
    expect(wakes.heard('p', 'slot')).toBe(true);
  });

  it('keeps claiming when a task was queued after the empty claim was sent (it may have run before that task)', () => {
    const wakes = subscribed();
    const ticket = wakes.sending('p');
    expect(wakes.heard('p', 'queued')).toBe(true);
    wakes.foundEmpty('p', ticket);
    expect(wakes.heard('p', 'slot')).toBe(true);
  });

  it('counts each pool on its own', () => {
    const wakes = subscribed();
    wakes.foundEmpty('p', wakes.sending('p'));
    expect(wakes.heard('p', 'slot')).toBe(false);
    expect(wakes.heard('q', 'slot')).toBe(true);
    expect(wakes.heard('q', 'queued')).toBe(true);
    expect(wakes.heard('p', 'slot')).toBe(false);
  });

  it('counts nothing drained before the first subscription, or while the subscription is away, or across it', () => {
    const wakes = new ClaimWakes();
    wakes.foundEmpty('p', wakes.sending('p'));
    expect(wakes.heard('p', 'slot')).toBe(true);
    wakes.subscribed(0);
    wakes.foundEmpty('p', wakes.sending('p'));
    expect(wakes.heard('p', 'slot')).toBe(false);
    // Dropped: the `queued` of a task queued meanwhile may be lost.
    wakes.dropped();
    expect(wakes.heard('p', 'slot')).toBe(true);
    const away = wakes.sending('p');
    wakes.foundEmpty('p', away);
    expect(wakes.heard('p', 'slot')).toBe(true);
    // A claim sent before the drop and answered after the new subscription says nothing either.
    const before = (() => {
      const fresh = subscribed();
      return { wakes: fresh, ticket: fresh.sending('p') };
    })();
    before.wakes.dropped();
    before.wakes.subscribed(1);
    before.wakes.foundEmpty('p', before.ticket);
    expect(before.wakes.heard('p', 'slot')).toBe(true);
    wakes.subscribed(1);
    wakes.foundEmpty('p', wakes.sending('p'));
    expect(wakes.heard('p', 'slot')).toBe(false);
  });

  it('treats any other message as a task queued (claims)', () => {
    const wakes = subscribed();
    wakes.foundEmpty('p', wakes.sending('p'));
    expect(wakes.heard('p', 'something new')).toBe(true);
    expect(wakes.heard('p', 'slot')).toBe(true);
  });
});
