// Writes in a space take their revisions in turns within the process (engine/turns.ts).
import { describe, expect, it } from 'vitest';
import { Turns } from '../../src/engine/turns.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('turns', () => {
  it('runs the tasks of one key one at a time, in arrival order, and those of other keys alongside', async () => {
    const turns = new Turns();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} start`);
      await tick();
      log.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([turns.take('a', task('a1')), turns.take('b', task('b1')), turns.take('a', task('a2'))]);
    expect(results).toEqual(['a1', 'b1', 'a2']);
    expect(log.indexOf('a2 start')).toBeGreaterThan(log.indexOf('a1 end'));
    expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
  });

  it('passes the turn on after a task fails, and reports the failure to its caller only', async () => {
    const turns = new Turns();
    const failing = turns.take('a', async () => {
      await tick();
      throw new Error('commit failed');
    });
    const next = turns.take('a', async () => 'next ran');
    await expect(failing).rejects.toThrow('commit failed');
    await expect(next).resolves.toBe('next ran');
  });

  it('runs at most `atOnce` tasks of a key at a time, starting them in arrival order', async () => {
    const turns = new Turns(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    // Uneven lengths, so that later tasks end before earlier ones.
    const task = (index: number) => async () => {
      started.push(index);
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, [5, 1, 3, 1, 4, 1, 2, 1][index]));
      running -= 1;
      return index;
    };
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => turns.take('a', task(index))));
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(2);
  });
});
