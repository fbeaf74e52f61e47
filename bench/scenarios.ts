// The scenarios of `npm run bench`. Each runs on a fresh database with its own Tidings process(es),
// sends only to the receiver process, and returns its figures; rates are measured at the receiver
// (first to last receipt), so process start-up is never counted.
import { Agent, request } from 'undici';
import { newId } from '../src/domain/ids.js';
import { createTestDatabase, type DatabaseKind } from '../test/support/databases.js';
import { analyzeDatabase, ApiClient, BODY, cloneWebhooks, fillQueue, latencySummary, now, openSetupTidings, percentile, postgresCpuFromNow, sleep, TidingsProcess, type PathStats, type Receiver, type TidingsOptions } from './harness.js';

/** Writes in flight at once in the steady scenario's open loop. */
const MAX_OUTSTANDING_WRITES = 64;

let runs = 0;
/** A receiver path no earlier run has used. */
const pathFor = (name: string) => `${name}-${(runs += 1)}`;
const perSecond = (stats: PathStats) => (stats.count - 1) / ((stats.lastAt! - stats.firstAt!) / 1000);
const accountName = () => `Bench ${newId()}`;

/** Rounds of the baseline: its median is the figure, steadier than one round on a shared machine. */
const BASELINE_ROUNDS = 5;

/**
 * The most this machine delivers: keep-alive undici POSTs of the drain's body, 32 at a time, after a
 * warm-up round (JIT, connections) like the one every Tidings process has had by its steady state.
 * The median of five rounds: single rounds of the same run differed by up to 40 %.
 */
export async function baseline(receiver: Receiver, count: number): Promise<{ count: number; perSecond: number; rounds: number[] }> {
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const round = async (path: string, total: number) => {
    let sent = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (sent < total) {
        sent += 1;
        const response = await request(`${receiver.url}/${path}`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' }, dispatcher: agent });
        await response.body.dump();
      }
    }));
    return receiver.stats(path);
  };
  await round(pathFor('baseline-warm-up'), count);
  const rounds: number[] = [];
  for (let index = 0; index < BASELINE_ROUNDS; index += 1) rounds.push(Math.round(perSecond(await round(pathFor('baseline'), count))));
  await agent.close();
  return { count, perSecond: percentile(rounds, 50), rounds };
}

/** Runs `setup` against the API of a Tidings in this process on a fresh database (which it migrates), then closes it. */
async function prepared<T>(kind: DatabaseKind, setup: (api: ApiClient) => Promise<T>) {
  const database = await createTestDatabase(kind);
  const tidings = await openSetupTidings(database.url);
  try {
    return { database, setup: await setup(tidings.api) };
  } finally {
    await tidings.close();
  }
}

/** Runs `scenario` against a Tidings process on a fresh database, then stops it and drops the database. */
async function onFreshTidings<T>(kind: DatabaseKind, scenario: (api: ApiClient, databaseUrl: string, tidings: TidingsProcess) => Promise<T>): Promise<T> {
  const database = await createTestDatabase(kind);
  try {
    const tidings = await TidingsProcess.start(database.url);
    const api = new ApiClient(tidings.apiUrl);
    try {
      return await scenario(api, database.url, tidings);
    } finally {
      await api.close();
      await tidings.stop();
    }
  } finally {
    await database.drop();
  }
}

async function ownerOf(api: ApiClient): Promise<string> {
  return (await api.get('entities/Clients?first=1')).data[0].id as string;
}

/**
 * Drain: `count` deliveries already queued for one webhook, sent by `workers` processes (the worker
 * process on PostgreSQL, the one `serve` process on SQLite).
 */
export async function drain(kind: DatabaseKind, receiver: Receiver, count: number, workers = 1) {
  const path = pathFor('drain');
  const { database, setup: webhookId } = await prepared(kind, (api) => api.create('Webhooks', { url: `${receiver.url}/${path}`, events: ['Account.Update'] }));
  try {
    await fillQueue(database.url, webhookId, count, Date.now() - count - 1_000);
    const options: TidingsOptions = { command: kind === 'postgres' ? 'worker' : 'serve' };
    const processes = await Promise.all(Array.from({ length: workers }, () => TidingsProcess.start(database.url, options)));
    try {
      const cpuAtStart = processes.reduce((sum, process) => sum + process.cpuSeconds(), 0);
      const postgresCpuMsPer = postgresCpuFromNow(kind);
      const stats = await receiver.waitFor(path, count, 600_000);
      // Tidings' own CPU per delivery, and PostgreSQL's: steadier across runs than the rate on a shared machine.
      const cpuSeconds = processes.reduce((sum, process) => sum + process.cpuSeconds(), 0) - cpuAtStart;
      return {
        deliveries: count, workers, perSecond: perSecond(stats), cpuMsPerDelivery: (cpuSeconds * 1_000) / count,
        postgresCpuMsPerDelivery: postgresCpuMsPer(count), peakRssMb: Math.max(...processes.map((process) => process.peakRssMb())),
      };
    } finally {
      await Promise.all(processes.map((process) => process.stop()));
    }
  } finally {
    await database.drop();
  }
}

/** Backlog: a million queued deliveries; the peak resident memory of the process draining them. */
export async function backlog(kind: DatabaseKind, receiver: Receiver, count: number, seconds: number) {
  const path = pathFor('backlog');
  const { database, setup: webhookId } = await prepared(kind, (api) => api.create('Webhooks', { url: `${receiver.url}/${path}`, events: ['Account.Update'] }));
  try {
    await fillQueue(database.url, webhookId, count, Date.now() - count - 1_000);
    const tidings = await TidingsProcess.start(database.url);
    try {
      await sleep(seconds * 1_000);
      const stats = await receiver.stats(path);
      return { queued: count, drainedSeconds: seconds, delivered: stats.count, perSecond: perSecond(stats), peakRssMb: tidings.peakRssMb() };
    } finally {
      await tidings.stop();
    }
  } finally {
    await database.drop();
  }
}

/**
 * Steady: account creations through the API at `rate` per second for `seconds`, one webhook on
 * Account.Create → write → receipt latency. Then saturation: `writers` clients writing as fast as
 * they can for `saturationSeconds` → writes/s and deliveries/s.
 */
export async function steady(kind: DatabaseKind, receiver: Receiver, settings: { rate: number; seconds: number; warmUpSeconds: number; saturationSeconds: number; writers: number }) {
  return onFreshTidings(kind, async (api, databaseUrl, tidings) => {
    const ownerId = await ownerOf(api);
    const write = async (sent: Map<string, number>, apiLatencies: number[]) => {
      const name = accountName();
      const started = now();
      sent.set(name, started);
      const response = await api.post('entities/Accounts', { name, owner_id: ownerId });
      if (response.status !== 201) throw new Error(`write failed: ${response.status} ${JSON.stringify(response.body)}`);
      apiLatencies.push(now() - started);
    };
    const measure = async (path: string, sent: Map<string, number>) => {
      await receiver.waitFor(path, sent.size, 120_000);
      const receipts = await receiver.receipts(path);
      return latencySummary([...sent].map(([name, sentAt]) => receipts.get(name)! - sentAt));
    };

    // Open loop: writes start on schedule whether or not earlier ones have finished, up to
    // MAX_OUTSTANDING_WRITES at once (a client's connection pool); a write that would exceed it is
    // not sent, and the achieved rate says so.
    const openLoop = async (seconds: number, sent: Map<string, number>, apiLatencies: number[]) => {
      const writes: Promise<void>[] = [];
      let outstanding = 0;
      let scheduled = 0;
      const started = now();
      while (now() - started < seconds * 1_000) {
        const due = Math.floor(((now() - started) / 1_000) * settings.rate);
        for (; scheduled < due; scheduled += 1) {
          if (outstanding >= MAX_OUTSTANDING_WRITES) continue;
          outstanding += 1;
          writes.push(write(sent, apiLatencies).finally(() => (outstanding -= 1)));
        }
        await sleep(2);
      }
      await Promise.all(writes);
      return { scheduled, writes: writes.length, writesPerSecond: writes.length / ((now() - started) / 1_000) };
    };

    // Warm-up, not measured: the same load for a few seconds. A Tidings process reaches this load
    // warm (JIT-compiled request paths, its connections and caches); started cold at 500/s, one run's
    // first two seconds had a p99 of 1.8 s and every later second a p99 of 14-59 ms.
    const warmPath = pathFor('timed-warm');
    const warmHook = await api.create('Webhooks', { url: `${receiver.url}/${warmPath}`, events: ['Account.Create'] });
    const warmSent = new Map<string, number>();
    await openLoop(settings.warmUpSeconds, warmSent, []);
    await measure(warmPath, warmSent);
    await api.delete(`entities/Webhooks/${warmHook}`);
    await analyzeDatabase(databaseUrl);

    const steadyPath = pathFor('timed-steady');
    const steadyHook = await api.create('Webhooks', { url: `${receiver.url}/${steadyPath}`, events: ['Account.Create'] });
    const sent = new Map<string, number>();
    const apiLatencies: number[] = [];
    const cpuAtStart = tidings.cpuSeconds();
    const postgresCpuMsPer = postgresCpuFromNow(kind);
    const load = await openLoop(settings.seconds, sent, apiLatencies);
    const steadyReceipts = await measure(steadyPath, sent);
    const steadyFigures = {
      ...load,
      writeToReceipt: steadyReceipts,
      apiWrite: latencySummary(apiLatencies),
      // Every thread of the process, the deliveries' work included: how close the load runs to the
      // one core that serves the API.
      cpuMsPerWrite: ((tidings.cpuSeconds() - cpuAtStart) * 1_000) / load.writes,
      postgresCpuMsPerWrite: postgresCpuMsPer(load.writes),
    };
    await api.delete(`entities/Webhooks/${steadyHook}`);

    // Saturation: closed loop, as fast as the API takes them.
    const saturationPath = pathFor('timed-saturation');
    await api.create('Webhooks', { url: `${receiver.url}/${saturationPath}`, events: ['Account.Create'] });
    const saturationSent = new Map<string, number>();
    const saturationLatencies: number[] = [];
    const saturationStarted = now();
    await Promise.all(Array.from({ length: settings.writers }, async () => {
      while (now() - saturationStarted < settings.saturationSeconds * 1_000) await write(saturationSent, saturationLatencies);
    }));
    const writesPerSecond = saturationSent.size / ((now() - saturationStarted) / 1_000);
    const writeToReceipt = await measure(saturationPath, saturationSent);
    const saturation = {
      writers: settings.writers,
      writesPerSecond,
      deliveriesPerSecond: perSecond(await receiver.stats(saturationPath)),
      writeToReceipt,
      apiWrite: latencySummary(saturationLatencies),
    };
    return { ...steadyFigures, saturation };
  });
}

/** Fan-out: one write matched by `webhooks` webhooks → time until the last of them is received. */
export async function fanOut(kind: DatabaseKind, receiver: Receiver, webhooks: number) {
  const path = pathFor('fanout');
  return onFreshTidings(kind, async (api) => {
    const ownerId = await ownerOf(api);
    await api.createMany('Webhooks', Array.from({ length: webhooks }, (_, index) => ({ url: `${receiver.url}/${path}/${index}`, events: ['Account.Create'] })));
    const started = now();
    await api.create('Accounts', { name: accountName(), owner_id: ownerId });
    const stats = await receiver.waitFor(path, webhooks, 60_000);
    return { webhooks, firstReceivedMs: stats.firstAt! - started, allReceivedMs: stats.lastAt! - started };
  });
}

// Webhooks that do not match an account creation: other entities' events, in turn.
const OTHER_EVENTS = ['Contact.Create', 'Lead.Update', 'Opportunity.Create', 'Contact.Delete', 'Product.Update', 'Account.Delete', 'Appointment.Create', 'Task.Update'];

/**
 * Matching cost: the API write latency of an account creation with 10, 1,000 and 100,000 webhooks in
 * the space. Of the first 10 (created through the API), one matches and nine are on the same event
 * with filters that do not match; every further one is on another event (copies of one created
 * through the API, see cloneWebhooks).
 */
export async function matchingCost(kind: DatabaseKind, receiver: Receiver, sizes: readonly number[], writes: number) {
  const path = pathFor('matching');
  return onFreshTidings(kind, async (api, databaseUrl) => {
    const ownerId = await ownerOf(api);
    await api.create('Webhooks', { url: `${receiver.url}/${path}`, events: ['Account.Create'] });
    await api.createMany('Webhooks', Array.from({ length: 8 }, (_, index) => ({
      url: `${receiver.url}/unmatched/${index}`, events: ['Account.Create'], options: { entity: { Account: { filter: { city: `Nowhere ${index}` } } } },
    })));
    const template = await api.create('Webhooks', { url: `${receiver.url}/unmatched/template`, events: ['Account.Create'], options: { entity: { Account: { filter: { city: 'Nowhere' } } } } });
    let registered = 10;
    const figures = [];
    for (const size of sizes) {
      await cloneWebhooks(databaseUrl, template, size - registered, (index) => ({
        url: `${receiver.url}/unmatched/${registered + index}`,
        event: OTHER_EVENTS[index % OTHER_EVENTS.length],
      }));
      registered = size;
      const delivered = (await receiver.stats(path)).count;
      const latencies: number[] = [];
      for (let index = 0; index < writes + 50; index += 1) {
        const started = now();
        await api.create('Accounts', { name: accountName(), owner_id: ownerId });
        if (index >= 50) latencies.push(now() - started); // the first 50 warm up
      }
      await receiver.waitFor(path, delivered + writes + 50, 60_000);
      figures.push({ webhooks: size, apiWrite: latencySummary(latencies) });
    }
    return figures;
  });
}

/**
 * Isolation: ten webhooks with `perWebhook` queued deliveries each, interleaved. Run once with all ten
 * healthy, once with the tenth's receiver never answering → the other nine's deliveries/s in each.
 */
export async function isolation(kind: DatabaseKind, receiver: Receiver, perWebhook: number) {
  const run = async (tenthPath: string) => {
    const ninePath = pathFor('nine');
    const { database, setup: webhookIds } = await prepared(kind, async (api) => {
      const ids = [];
      for (let index = 0; index < 9; index += 1) ids.push(await api.create('Webhooks', { url: `${receiver.url}/${ninePath}/${index}`, events: ['Account.Update'] }));
      ids.push(await api.create('Webhooks', { url: `${receiver.url}/${tenthPath}`, events: ['Account.Update'] }));
      return ids;
    });
    try {
      const firstDueAt = Date.now() - perWebhook - 1_000;
      for (const webhookId of webhookIds) await fillQueue(database.url, webhookId, perWebhook, firstDueAt);
      const tidings = await TidingsProcess.start(database.url);
      try {
        return perSecond(await receiver.waitFor(ninePath, 9 * perWebhook, 300_000));
      } finally {
        // The figure is taken; a stop that waited for the attempts stuck on the silent receiver
        // would wait out their timeout (up to 15 s, about a tenth of a --quick run).
        await tidings.stop(1_000);
      }
    } finally {
      await database.drop();
    }
  };
  const allHealthy = await run(pathFor('tenth'));
  const oneSilent = await run(pathFor('hang'));
  return { perWebhook, allHealthyPerSecond: allHealthy, oneSilentPerSecond: oneSilent, ratio: oneSilent / allHealthy };
}
