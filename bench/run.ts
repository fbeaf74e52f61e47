// `npm run bench`: how fast Tidings delivers, next to the most this machine can deliver (raw
// keep-alive undici POSTs of the same bodies to the same receiver), measured in the same run.
// Loopback only; Tidings and the receiver run as separate processes; bounded in count and time.
//   npm run bench [-- --quick] [-- --db sqlite|postgres] [-- --only drain,steady,…] [-- --out DIR]
//   [-- --profile DIR]   (a CPU profile of every Tidings process, as `node --cpu-prof` writes them)
//   [-- --verbose]       (every Tidings process's log, at info, on stderr)
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { version } from '../src/version.js';
import { buildDist } from '../test/support/build-dist.js';
import { POSTGRES_ADMIN_URL, type DatabaseKind } from '../test/support/databases.js';
import { percentile, profileInto, Receiver, showTidingsOutput } from './harness.js';
import { backlog, baseline, drain, fanOut, isolation, matchingCost, steady } from './scenarios.js';

const { values: options } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, db: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' }, profile: { type: 'string' }, verbose: { type: 'boolean', default: false } },
});

const SIZES = options.quick
  ? { baseline: 5_000, drain: 5_000, workers: 5_000, steady: { rate: 500, seconds: 5, warmUpSeconds: 2, saturationSeconds: 2, writers: 16 }, fanOut: 1_000, matching: { sizes: [10, 100, 1_000], writes: 100 }, backlog: { count: 20_000, seconds: 3 }, isolation: 300 }
  : { baseline: 20_000, drain: 100_000, workers: 50_000, steady: { rate: 500, seconds: 30, warmUpSeconds: 5, saturationSeconds: 10, writers: 16 }, fanOut: 1_000, matching: { sizes: [10, 1_000, 100_000], writes: 300 }, backlog: { count: 1_000_000, seconds: 20 }, isolation: 2_000 };
/** Drains of a full run, each between two baselines: the figure is the median one's. */
const DRAIN_RUNS = options.quick ? 1 : 3;
/** Pairs of drains by one and by two PostgreSQL worker processes, by turns: likewise. */
const WORKER_PAIRS = options.quick ? 1 : 3;
const SCENARIOS = ['drain', 'steady', 'fanout', 'matching', 'backlog', 'isolation', 'workers'] as const;
const selected = new Set(options.only ? options.only.split(',') : SCENARIOS);
for (const name of selected) if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario '${name}': one of ${SCENARIOS.join(', ')}`);

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

interface Target {
  readonly figure: string;
  readonly value: number;
  readonly target: string;
  readonly met: boolean;
}

const format = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percent = (ratio: number) => `${format(ratio * 100, 1)} %`;
/** PostgreSQL's CPU per unit of work, where the server runs on this machine (see postgresCpuSeconds). */
const postgresCpu = (msPer: number | undefined, unit: string) => (msPer === undefined ? '' : `, PostgreSQL's ${format(msPer * 1_000)} µs per ${unit}`);
const log = (line: string) => process.stdout.write(`${line}\n`);
/** Of an odd number of runs, the one whose `figure` is the median. */
const medianBy = <T>(runs: readonly T[], figure: (run: T) => number): T => [...runs].sort((one, other) => figure(one) - figure(other))[Math.floor(runs.length / 2)]!;

async function benchmark(kind: DatabaseKind, receiver: Receiver) {
  const figures: Record<string, unknown> = {};
  const targets: Target[] = [];
  const rows: [string, string][] = [];
  const show = (figure: string, text: string) => {
    rows.push([figure, text]);
    log(`${kind}: ${figure}: ${text}`);
  };
  // How long each scenario takes, set-up included: what the run's time limit is spent on.
  const seconds: Record<string, number> = {};
  figures.seconds = seconds;
  const timed = async <T>(scenario: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } finally {
      seconds[scenario] = Math.round(((seconds[scenario] ?? 0) + (performance.now() - started) / 1_000) * 10) / 10;
    }
  };
  const base = await timed('baseline', () => baseline(receiver, SIZES.baseline));
  figures.baseline = base;
  show('baseline (raw keep-alive undici POSTs, 32 at a time; median of rounds)', `${format(base.perSecond)}/s (rounds ${base.rounds.map((rate) => format(rate)).join(', ')})`);

  if (selected.has('drain')) {
    // The machine's speed moves within minutes (single rounds of one run: 14,587 to 34,773/s), so each
    // drain is compared with the baseline's rounds on both sides of it, and the figure is the median
    // of DRAIN_RUNS such drains: 41 single drains of one build on SQLite in one afternoon ran from 36.4
    // to 61.1 %.
    const runs = [];
    let before = base;
    for (let run = 0; run < DRAIN_RUNS; run += 1) {
      const result = await timed('drain', () => drain(kind, receiver, SIZES.drain, 1));
      const after = await timed('baseline after the drain', () => baseline(receiver, SIZES.baseline));
      const around = percentile([...before.rounds, ...after.rounds], 50);
      runs.push({ ...result, baselineAround: around, baselineAfter: after, ratioToBaseline: result.perSecond / around });
      before = after;
    }
    const median = medianBy(runs, (run) => run.ratioToBaseline);
    // The memory figure is the most any of them held.
    figures.drain = { ...median, peakRssMb: Math.max(...runs.map((run) => run.peakRssMb)), runs };
    show(
      `drain of ${format(SIZES.drain)} queued deliveries${kind === 'postgres' ? ', one worker process' : ''}`,
      `${format(median.perSecond)}/s = ${percent(median.ratioToBaseline)} of the baseline around it (${format(median.baselineAround)}/s, the median of the rounds before and after it: ${median.baselineAfter.rounds.map((rate) => format(rate)).join(', ')}); Tidings CPU ${format(median.cpuMsPerDelivery * 1_000)} µs per delivery${postgresCpu(median.postgresCpuMsPerDelivery, 'delivery')}${runs.length > 1 ? `; the median of ${runs.length} drains: ${runs.map((run) => percent(run.ratioToBaseline)).join(', ')}` : ''}`,
    );
    const wanted = kind === 'sqlite' ? 0.5 : 0.35;
    targets.push({ figure: 'drain, ratio to the baseline', value: median.ratioToBaseline, target: `≥ ${percent(wanted)}`, met: median.ratioToBaseline >= wanted });
  }
  if (selected.has('workers') && kind === 'postgres') {
    // One and two worker processes drain the same backlog by turns, so that both meet the machine at
    // about the same speed; the figure is the median pair's.
    const pairs = [];
    for (let pair = 0; pair < WORKER_PAIRS; pair += 1) {
      const one = await timed('workers', () => drain(kind, receiver, SIZES.workers, 1));
      const two = await timed('workers', () => drain(kind, receiver, SIZES.workers, 2));
      pairs.push({ onePerSecond: one.perSecond, twoPerSecond: two.perSecond, ratio: two.perSecond / one.perSecond });
    }
    const median = medianBy(pairs, (pair) => pair.ratio);
    figures.workers = { deliveries: SIZES.workers, ...median, ratioToBaseline: median.twoPerSecond / base.perSecond, pairs };
    show(
      `drain of ${format(SIZES.workers)}, two worker processes`,
      `${format(median.twoPerSecond)}/s = ${percent(median.twoPerSecond / base.perSecond)} of the baseline, ${format(median.ratio, 2)} × one (${format(median.onePerSecond)}/s, just before)${pairs.length > 1 ? `; the median of ${pairs.length} pairs: ${pairs.map((pair) => `${format(pair.ratio, 2)} ×`).join(', ')}` : ''}`,
    );
    targets.push({ figure: 'two workers / one worker', value: median.ratio, target: '> 1', met: median.ratio > 1 });
  }
  if (selected.has('steady')) {
    const result = await timed('steady', () => steady(kind, receiver, SIZES.steady));
    figures.steady = result;
    const { writeToReceipt: latency, saturation } = result;
    show(`steady, ${format(result.writesPerSecond)} writes/s of ${SIZES.steady.rate} scheduled, for ${SIZES.steady.seconds} s: write → receipt`, `p50 ${format(latency.p50Ms, 1)} ms, p95 ${format(latency.p95Ms, 1)} ms, p99 ${format(latency.p99Ms, 1)} ms; API write p99 ${format(result.apiWrite.p99Ms, 1)} ms; Tidings CPU ${format(result.cpuMsPerWrite * 1_000)} µs per write${postgresCpu(result.postgresCpuMsPerWrite, 'write')}`);
    show(`saturation, ${saturation.writers} writers for ${SIZES.steady.saturationSeconds} s`, `${format(saturation.writesPerSecond)} writes/s, ${format(saturation.deliveriesPerSecond)} deliveries/s = ${percent(saturation.deliveriesPerSecond / base.perSecond)} of the baseline; write → receipt p50 ${format(saturation.writeToReceipt.p50Ms, 1)} ms, p99 ${format(saturation.writeToReceipt.p99Ms, 1)} ms`);
    targets.push({ figure: 'steady write → receipt p99 (ms)', value: latency.p99Ms, target: '≤ 50', met: latency.p99Ms <= 50 });
  }
  if (selected.has('fanout')) {
    const result = await timed('fanout', () => fanOut(kind, receiver, SIZES.fanOut));
    figures.fanOut = result;
    show(`fan-out, one write to ${format(SIZES.fanOut)} webhooks`, `first received after ${format(result.firstReceivedMs)} ms, all after ${format(result.allReceivedMs)} ms`);
    targets.push({ figure: 'fan-out, all received (ms)', value: result.allReceivedMs, target: '≤ 2,000', met: result.allReceivedMs <= 2_000 });
  }
  if (selected.has('matching')) {
    const result = await timed('matching', () => matchingCost(kind, receiver, SIZES.matching.sizes, SIZES.matching.writes));
    figures.matching = result;
    for (const size of result) show(`API write with ${format(size.webhooks)} webhooks`, `p50 ${format(size.apiWrite.p50Ms, 2)} ms, p99 ${format(size.apiWrite.p99Ms, 2)} ms`);
    const [fewest, most] = [result[0], result.at(-1)!];
    const ratio = most.apiWrite.p50Ms / fewest.apiWrite.p50Ms;
    targets.push({ figure: `write cost, ${format(most.webhooks)} / ${format(fewest.webhooks)} webhooks (p50)`, value: ratio, target: '≤ 1.5', met: ratio <= 1.5 });
  }
  if (selected.has('backlog')) {
    const result = await timed('backlog', () => backlog(kind, receiver, SIZES.backlog.count, SIZES.backlog.seconds));
    figures.backlog = result;
    const drainRss = (figures.drain as { peakRssMb: number } | undefined)?.peakRssMb;
    show(
      `backlog of ${format(result.queued)}: peak RSS while draining for ${result.drainedSeconds} s`,
      `${format(result.peakRssMb)} MB (${format(result.perSecond)} deliveries/s)${drainRss ? `; draining ${format(SIZES.drain)}: ${format(drainRss)} MB` : ''}`,
    );
    targets.push({ figure: 'backlog peak RSS (MB)', value: result.peakRssMb, target: '≤ 300', met: result.peakRssMb <= 300 });
  }
  if (selected.has('isolation')) {
    const result = await timed('isolation', () => isolation(kind, receiver, SIZES.isolation));
    figures.isolation = result;
    show('isolation, nine healthy webhooks beside a silent one', `${format(result.oneSilentPerSecond)}/s against ${format(result.allHealthyPerSecond)}/s all healthy = ${percent(result.ratio)}`);
    targets.push({ figure: 'isolation, the healthy nine', value: result.ratio, target: '≥ 90 %', met: result.ratio >= 0.9 });
  }
  log(`${kind}: seconds per scenario, set-up included: ${Object.entries(seconds).map(([scenario, spent]) => `${scenario} ${spent}`).join(', ')}`);
  return { figures, targets, rows };
}

buildDist();
if (options.profile) profileInto(options.profile);
if (options.verbose) showTidingsOutput();
const kinds: DatabaseKind[] = options.db ? [options.db as DatabaseKind] : (await postgresReachable()) ? ['sqlite', 'postgres'] : ['sqlite'];
const runStarted = performance.now();
const receiver = await Receiver.start();
const summaries: { kind: DatabaseKind; targets: Target[] }[] = [];
try {
  for (const kind of kinds) {
    const { figures, targets } = await benchmark(kind, receiver);
    summaries.push({ kind, targets });
    const results = {
      date: new Date().toISOString(),
      quick: options.quick,
      database: kind,
      // What the SQLite figures assume: see docs/performance.md.
      ...(kind === 'sqlite' ? { sqlite: { journalMode: 'wal', synchronous: 'normal' } } : {}),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}` },
      versions: { tidings: version, node: process.version },
      sizes: SIZES,
      figures,
      targets,
    };
    const directory = options.out ?? join(import.meta.dirname, 'results');
    mkdirSync(directory, { recursive: true });
    // A run of some scenarios is named after them, so that it never takes the place of the day's full run.
    const some = options.only ? `-only-${[...selected].join('+')}` : '';
    writeFileSync(join(directory, `${results.date.slice(0, 10)}-${kind}${options.quick ? '-quick' : ''}${some}.json`), `${JSON.stringify(results, null, 2)}\n`);
  }
} finally {
  await receiver.stop();
}

log(`\nwhole run: ${format((performance.now() - runStarted) / 1000)} s`);
log('\ntargets:');
for (const { kind, targets } of summaries) {
  for (const target of targets) log(`  ${target.met ? 'met    ' : 'MISSED '} ${kind}: ${target.figure}: ${format(target.value, 2)} (target ${target.target})`);
}
