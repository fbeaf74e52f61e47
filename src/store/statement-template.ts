// Statements built and compiled once per shape, then run with new values. Kysely builds and compiles
// every statement anew: an account's creation on SQLite spent 181 µs compiling its twelve statements
// (in process, after warm-up), beside the building itself, in a write of about 1.8 ms.
import { CompiledQuery } from 'kysely';
import { AND_COMMIT, type Executor } from './database.js';

/** Where a run's value goes into a compiled statement: the `index`th of its values. */
class Slot {
  constructor(readonly index: number) {}
}

/** A query builder, or a raw `sql` statement (compiled with the executor it first runs on). */
interface Buildable {
  compile(executor: Executor): CompiledQuery;
}

/** `count` of a template's slots, from the `first`th on: where a list of values goes. */
export const slots = (slot: (index: number) => never, first: number, count: number) => Array.from({ length: count }, (_, index) => slot(first + index));

/** Shapes kept per statement; a statement of another shape is built and compiled for its run alone. */
const SHAPES_KEPT = 64;

/**
 * One statement, built by `build` for each `shape` (the things its text depends on: a list's length,
 * a column's name) and compiled at its first run of that shape. `build` places `slot(i)` where the
 * run's i-th value goes, unchanged: values are encoded before they are passed, never while building.
 * Statements are compiled for one database (the store's), so each store keeps its own.
 */
export class StatementTemplate<Shape, Row = unknown> {
  private readonly compiled = new Map<string | number, CompiledQuery>();

  /** `keyOf` names a shape (a list's length needs no naming). */
  constructor(
    private readonly build: (slot: (index: number) => never, shape: Shape) => Buildable,
    private readonly keyOf: (shape: Shape) => string | number = (shape) => shape as string | number,
  ) {}

  /** `andCommit`: on PostgreSQL, the statement ends its transaction with a COMMIT in the same round trip (see AND_COMMIT). */
  async run(executor: Executor, shape: Shape, values: readonly unknown[], { andCommit = false } = {}): Promise<Row[]> {
    const key = this.keyOf(shape);
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = this.compile(shape, executor);
      if (this.compiled.size < SHAPES_KEPT) this.compiled.set(key, compiled);
    }
    const parameters = compiled.parameters.map((parameter) => (parameter instanceof Slot ? values[parameter.index] : parameter));
    if (andCommit) parameters.push(AND_COMMIT);
    const result = await executor.executeQuery(CompiledQuery.raw(compiled.sql, parameters));
    return result.rows as Row[];
  }

  private compile(shape: Shape, executor: Executor): CompiledQuery {
    const made: Slot[] = [];
    const compiled = this.build((index) => {
      const slot = new Slot(index);
      made.push(slot);
      return slot as never;
    }, shape).compile(executor);
    // A slot that was encoded while building (JSON.stringify'd, say) would silently bind nothing.
    const placed = new Set(compiled.parameters.filter((parameter) => parameter instanceof Slot));
    const lost = made.filter((slot) => !placed.has(slot));
    if (lost.length > 0) throw new Error(`prepared statement: values ${lost.map((slot) => slot.index).join(', ')} were not placed as they are`);
    return compiled;
  }
}
