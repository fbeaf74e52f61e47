// Ids are UUIDv7: well formed, in creation order, and unique.
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';

describe('newId', () => {
  it('is a version 7 UUID carrying its millisecond timestamp', () => {
    const at = Date.UTC(2026, 10, 27, 12, 0, 0, 123);
    const id = newId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts in creation order across milliseconds, and never repeats', () => {
    const ids = Array.from({ length: 1_000 }, (_, index) => newId(1_795_000_000_000 + index));
    expect([...ids].sort()).toEqual(ids);
    const sameMillisecond = Array.from({ length: 10_000 }, () => newId(1_795_000_000_000));
    expect(new Set(sameMillisecond).size).toBe(sameMillisecond.length);
  });
});
