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
});
