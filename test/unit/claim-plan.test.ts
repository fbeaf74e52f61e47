// How much a worker's next claim may lease (delivery/claim-plan.ts), for a worker with a
// pool of 64, 32 of a webhook in flight, 192 of it held at most.
import { describe, expect, it } from 'vitest';
import { planClaim, type ClaimPlan } from '../../src/delivery/claim-plan.js';

const pool = { concurrency: 64, perWebhook: 32, handedOverPerWebhook: 192 };
const holding = (recent: Record<string, number>, sending: Record<string, number> = recent) => ({
  recent: new Map(Object.entries(recent)),
  sending: new Map(Object.entries(sending)),
  inFlight: Object.values(sending).reduce((sum, held) => sum + held, 0),
});

describe('a claim\'s plan', () => {
  it('takes the whole pool when nothing is held, up to the cap of any one webhook', () => {
    expect(planClaim(pool, holding({}), [])).toEqual({ slots: 64, limit: 64, perWebhook: 192, rooms: new Map() });
  });

  it('refills a lane at its width beyond the free slots, up to what the webhook may hold', () => {
    // 32 in flight and 8 waiting: 32 slots free, and 152 more may wait in its lane.
    const plan = planClaim(pool, holding({ busy: 40 }), []);
    expect(plan).toMatchObject({ slots: 32, limit: 32 + 152, perWebhook: 192 });
    expect(plan.rooms).toEqual(new Map([['busy', 152]]));
  });

  it('counts only a lane\'s width against the pool, and nothing of slow attempts', () => {
    // A silent receiver's 150 (none recent) and a webhook's 3 lately.
    const plan = planClaim(pool, holding({ lately: 3 }, { lately: 3, silent: 150 }), []);
    expect(plan).toMatchObject({ slots: 61, limit: 61 });
    expect(plan.rooms).toEqual(new Map([['lately', 189], ['silent', 42]]));
  });

  it('counts what a claim under way may still lease of each webhook, not its whole limit', () => {
    // The one under way may lease 64 of `busy` (its room then) and of any other webhook 100.
    const underWay: ClaimPlan = { slots: 0, limit: 100, perWebhook: 150, rooms: new Map([['busy', 64]]) };
    const plan = planClaim(pool, holding({ busy: 32 }), [underWay]);
    expect(plan.rooms).toEqual(new Map([['busy', 192 - 32 - 64]]));
    expect(plan.perWebhook).toBe(192 - 100);
    // The free slots go to no one twice: those the claim under way may fill are taken.
    expect(planClaim(pool, holding({}), [{ slots: 64, limit: 64, perWebhook: 192, rooms: new Map() }])).toMatchObject({ slots: 0, limit: 0, perWebhook: 128 });
  });

  it('never puts more attempts in flight than four per slot of the pool', () => {
    // 32 slots and 160 in the lane would be free, but 232 of the 256 sockets are in use.
    expect(planClaim(pool, holding({ busy: 32 }, { busy: 32, silent: 200 }), []).limit).toBe(24);
  });
});
