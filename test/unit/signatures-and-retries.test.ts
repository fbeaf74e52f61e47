import fc from 'fast-check';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { chunkItems } from '../../src/domain/notification.js';
import { retryDelayMs } from '../../src/domain/retry-schedule.js';
import { signatureHeader, standardWebhooksSecret } from '../../src/domain/signatures.js';

describe('signatures', () => {
  it('Standard Webhooks signatures verify with the reference library, and tampering fails', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.string({ minLength: 1, maxLength: 24 }), fc.jsonValue(), (secret, id, payload) => {
        const body = JSON.stringify([payload]);
        const timestamp = Math.floor(Date.now() / 1000);
        const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), ...signatureHeader('standard-webhooks', [secret], id, timestamp, body) };
        const verifier = new StandardWebhook(standardWebhooksSecret(secret));
        expect(verifier.verify(body, headers)).toEqual(JSON.parse(body));
        expect(() => verifier.verify(`${body} `, headers)).toThrow();
      }),
      { numRuns: 100 },
    );
  });

  it('sends every secret during a rotation, each verifying on its own', () => {
    const header = signatureHeader('standard-webhooks', ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'], 'msg_1', 1_700_000_000, '[]');
    expect(header['webhook-signature'].split(' ')).toHaveLength(2);
  });

  it('sends no signature header without a secret', () => {
    expect(signatureHeader('pipeliner', [], 'id', 1, '[]')).toEqual({});
  });
});

describe('the retry schedule', () => {
  it('waits the scheduled delay ±20 %, then gives up', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 86_400 }), { minLength: 1, maxLength: 10 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (schedule, random) => {
        schedule.forEach((seconds, index) => {
          const delay = retryDelayMs(schedule, index + 1, () => random)!;
          expect(delay).toBeGreaterThanOrEqual(Math.floor(seconds * 800));
          expect(delay).toBeLessThanOrEqual(Math.ceil(seconds * 1200));
        });
        expect(retryDelayMs(schedule, schedule.length + 1, () => random)).toBeNull();
      }),
    );
  });
});

describe('chunking', () => {
  it('cuts items into chunks of at most chunk_size, in order, chunk N delayed N × chunk_delay', () => {
    const chunks = chunkItems(Array.from({ length: 250 }, (_, index) => index), 100, 300);
    expect(chunks.map((chunk) => [chunk.items.length, chunk.delayMs])).toEqual([[100, 0], [100, 300_000], [50, 600_000]]);
    expect(chunks.flatMap((chunk) => chunk.items)).toEqual(Array.from({ length: 250 }, (_, index) => index));
    expect(chunkItems([1, 2, 3]).map((chunk) => chunk.items)).toEqual([[1, 2, 3]]);
  });
});
