// The HTTP sender on a thread of its own: a worker's sockets, its HTTP writing and parsing and its
// attempts' timers run on the second core while the worker's own thread claims and records. In the
// SQLite drain's profile they were about a quarter of the process's one busy thread (undici writing
// requests 12 %, parsing responses 7 %, dispatching 5 %). The lanes (lanes.ts) run there too, so a
// webhook's waiting attempts start while the worker's thread is busy claiming. A claim's attempts
// cross as one message; outcomes come back as they end, those of one turn of the thread's event loop
// in one message. (Sent at the end of each response's own callback instead, each outcome was a
// message of its own, and a wake-up of the worker's thread: in the SQLite drain 14 now go together,
// and a delivery took 80-95 µs of CPU against 88-116, alternating.)
import { Worker, type MessagePort } from 'node:worker_threads';
import { TargetPolicy } from '../domain/target-policy.js';
import { Lanes, type Lane, type LanedSender, type LaneOutcome } from './lanes.js';
import { HttpSender, type Attempt } from './sender.js';

export interface SenderThreadSettings {
  readonly timeoutMs: number;
  /** TIDINGS_ALLOW_PRIVATE_TARGETS: the SSRF guard is built in the thread from it. */
  readonly allowPrivateTargets: readonly string[];
}

interface Sent {
  readonly id: number;
  readonly attempt: Attempt;
  readonly lane: Lane;
  readonly startWithinMs: number | undefined;
}

interface Answered {
  readonly id: number;
  readonly outcome: LaneOutcome;
}

const CLOSE = 'close';

export class ThreadedSender implements LanedSender {
  private thread: Worker | null = null;
  /** Attempts sent to the thread, by id, with what resolves each. */
  private readonly inThread = new Map<number, (outcome: LaneOutcome) => void>();
  private batch: Sent[] = [];
  private lastId = 0;

  constructor(private readonly settings: SenderThreadSettings) {}

  send(attempt: Attempt, lane: Lane, startWithinMs?: number): Promise<LaneOutcome> {
    return new Promise((resolve) => {
      const id = (this.lastId += 1);
      this.inThread.set(id, resolve);
      // A claim's attempts start together: they go over as one message once it has started them all.
      if (this.batch.length === 0) queueMicrotask(() => this.flush());
      this.batch.push({ id, attempt, lane, startWithinMs });
    });
  }

  /** Waits for the thread to finish the attempts it holds and to stop. */
  async close(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    this.thread = null;
    const exited = new Promise((resolve) => thread.once('exit', resolve));
    thread.postMessage(CLOSE);
    await exited;
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    (this.thread ??= this.start()).postMessage(batch);
  }

  private start(): Worker {
    const thread = new Worker(new URL('./sender-thread.js', import.meta.url), {
      workerData: { module: import.meta.url, settings: this.settings },
      // It holds at most a worker's attempts in flight and its sockets. With V8's defaults the process
      // peaked at 279 MB with 1,000,000 queued (one run), capped at 273-275 MB.
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 8 },
    });
    thread.on('message', (answers: Answered[]) => {
      for (const { id, outcome } of answers) {
        this.inThread.get(id)?.(outcome);
        this.inThread.delete(id);
      }
    });
    // A thread that dies fails the attempts it held, waiting ones too (they are retried as any failed
    // attempt is); the next attempt starts a new one.
    const stopped = (why: string) => {
      if (this.thread === thread) this.thread = null;
      for (const [id, resolve] of this.inThread) {
        const result = { status: null, error: `the sender thread stopped: ${why}`, forbidden: false, responseHeaders: null, responseBody: null, durationMs: 0 };
        resolve({ sent: true, result, waitedMs: 0 });
        this.inThread.delete(id);
      }
    };
    thread.on('error', (error) => stopped(error.message));
    thread.on('exit', (code) => stopped(`exit code ${code}`));
    return thread;
  }
}

/** The thread's side: sends each batch's attempts through lanes and answers with their outcomes, batched too. */
export function serveAttempts(port: MessagePort, settings: SenderThreadSettings): void {
  const sender = new Lanes(new HttpSender(settings.timeoutMs, new TargetPolicy(settings.allowPrivateTargets)));
  let answers: Answered[] = [];
  const answer = () => {
    if (answers.length === 0) return;
    port.postMessage(answers);
    answers = [];
  };
  let sending = 0;
  let closing = false;
  const closeWhenDone = () => {
    if (!closing || sending > 0) return;
    answer();
    void sender.close().then(() => port.close());
  };
  port.on('message', (message: Sent[] | typeof CLOSE) => {
    if (message === CLOSE) {
      closing = true;
      return closeWhenDone();
    }
    for (const { id, attempt, lane, startWithinMs } of message) {
      sending += 1;
      void sender.send(attempt, lane, startWithinMs).then((outcome) => {
        sending -= 1;
        if (answers.length === 0) setImmediate(answer);
        answers.push({ id, outcome });
        closeWhenDone();
      });
    }
  });
}
