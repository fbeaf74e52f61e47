// Turn-taking within this process: tasks with the same key run at most `atOnce` at a time, starting
// in the order they arrive. A failed task passes its turn on like a finished one.
interface Queue {
  /** Tasks of the key running now. */
  running: number;
  /** Tasks waiting for a turn, in arrival order: each is started by a task that ends. */
  readonly waiting: (() => void)[];
}

export class Turns {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly atOnce = 1) {}

  async take<T>(key: string, task: () => Promise<T>): Promise<T> {
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { running: 0, waiting: [] }));
    if (queue.running < this.atOnce) queue.running += 1;
    else await new Promise<void>((start) => queue.waiting.push(start));
    try {
      return await task();
    } finally {
      // The turn goes to the first task waiting, or is given up.
      const next = queue.waiting.shift();
      if (next) next();
      else if ((queue.running -= 1) === 0) this.queues.delete(key);
    }
  }
}
