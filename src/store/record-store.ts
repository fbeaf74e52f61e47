// The EntityStore port's one implementation: CRM records as JSON documents in `records`, on SQLite or
// PostgreSQL. Every query is scoped to one space. One operation per method.
import { sql, type RawBuilder } from 'kysely';
import type { EntityDef } from '../domain/catalogue.js';
import type { FilterCondition } from '../domain/filter.js';
import { encodeCursor, type CursorValue, type PageInfo, type SortKey } from '../domain/pagination.js';
import type { StoredRecord } from '../domain/projection.js';
import { decodeJson, type Database, type Executor } from './database.js';
import { bindValue, fieldExpression, fieldReference } from './json-fields.js';
import { slots, StatementTemplate } from './statement-template.js';
import { compileFilter } from './sql-filter.js';
import { enqueuedAndAnnounced, enqueuedValues, type DeliveryAwaitingRevisions } from './delivery-queue.js';

type Sql = RawBuilder<unknown>;

export interface RecordRow {
  readonly entity: string;
  readonly data: StoredRecord;
}

export interface ListQuery {
  readonly spaceId: string;
  readonly entity: EntityDef;
  readonly conditions: readonly FilterCondition[];
  readonly sortKeys: readonly SortKey[];
  readonly includeDeleted: boolean;
  readonly first?: number;
  readonly last?: number;
  /** Decoded cursors: the sort-key values, then the id. */
  readonly after?: readonly CursorValue[];
  readonly before?: readonly CursorValue[];
}

export interface ListResult {
  readonly rows: StoredRecord[];
  readonly total: number;
  readonly pageInfo: PageInfo;
}

/** Records per revision statement (PostgreSQL's, see takeRevisionsAndCommit): two parameters each. */
const REVISIONS_PER_STATEMENT = 500;

const toRecord = (row: { data: unknown }) => decodeJson(row.data) as StoredRecord;

export class RecordStore {
  // The write path's statements as templates (see statement-template.ts); their shapes are the lists' lengths.
  private readonly byId = new StatementTemplate<boolean, { entity: string; data: unknown }>((slot, forUpdate) => {
    const query = this.db.selectFrom('records').select(['entity', this.dataColumn()]).where('space_id', '=', slot(0)).where('id', '=', slot(1));
    return forUpdate ? query.forUpdate() : query;
  }, String);
  private readonly byIds = new StatementTemplate<number, { entity: string; data: unknown }>((slot, count) =>
    this.db.selectFrom('records').select(['entity', this.dataColumn()]).where('space_id', '=', slot(0)).where('id', 'in', slots(slot, 1, count)));
  private readonly withValues = new StatementTemplate<{ field: string; count: number }, { data: unknown }>(
    (slot, { field, count }) => this.liveWithValues(slot, field, count).select(this.dataColumn()),
    ({ field, count }) => `${field} ${count}`,
  );
  private readonly referencedBy = new StatementTemplate<{ field: string; count: number; reference: string }, { entity: string; data: unknown }>(
    (slot, { field, count, reference }) =>
      this.db
        .selectFrom('records')
        .select(['entity', this.dataColumn()])
        .where('space_id', '=', slot(0))
        // Unqualified, the subquery's columns are its own table's.
        .where('id', 'in', this.liveWithValues(slot, field, count).select(fieldReference(this.database.dialect, reference).as('reference'))),
    ({ field, count, reference }) => `${field} ${count} ${reference}`,
  );
  private readonly inserted = new StatementTemplate<number>((slot, count) =>
    this.db.insertInto('records').values(
      Array.from({ length: count }, (_, row) => ({
        space_id: slot(5 * row), id: slot(5 * row + 1), entity: slot(5 * row + 2), data: this.encodedData(slot(5 * row + 3)), is_deleted: slot(5 * row + 4),
      })),
    ));
  private readonly replaced = new StatementTemplate<'one'>((slot) =>
    this.db.updateTable('records').set({ entity: slot(2), data: this.encodedData(slot(3)), is_deleted: slot(4) }).where('space_id', '=', slot(0)).where('id', '=', slot(1)));
  private readonly revisionRead = new StatementTemplate<'one', { revision: number }>((slot) =>
    this.db.selectFrom('spaces').select('revision').where('id', '=', slot(0)));
  private readonly revisionsTaken = new StatementTemplate<'one', { revision: number }>((slot) =>
    this.db.updateTable('spaces').set((eb) => ({ revision: eb('revision', '+', slot(0)) })).where('id', '=', slot(1)).returning('revision'));
  /**
   * PostgreSQL: the counter advanced and revisions stored in records' documents, in one statement;
   * values: the space, then each record's id and its revision less the counter's after the advance,
   * then the advance (0 leaves the counter as it is). With `deliveries`, then the deliveries' values
   * (see enqueuedValues), awaiting the revisions taken here.
   */
  private readonly revisionsTakenAndStored = new StatementTemplate<{ count: number; deliveries: boolean }, { revision: number }>((slot, { count, deliveries }) => {
    // VALUES columns are named column1, column2; the casts type the parameters.
    const values = Array.from({ length: count }, (_, row) => sql`(CAST(${slot(2 * row + 1)} AS TEXT), CAST(${slot(2 * row + 2)} AS BIGINT))`);
    return sql`
      WITH taken AS (UPDATE spaces SET revision = revision + CAST(${slot(2 * count + 1)} AS BIGINT) WHERE id = ${slot(0)} RETURNING revision),
      stored AS (
        UPDATE records SET data = jsonb_set(data, '{revision}', to_jsonb(taken.revision + v.column2))
        FROM taken, (VALUES ${sql.join(values)}) AS v
        WHERE records.space_id = ${slot(0)} AND records.id = v.column1)
      ${deliveries ? sql`, ${enqueuedAndAnnounced(slot, 2 * count + 2, sql<number>`(SELECT revision FROM taken)`)}` : sql``}
      SELECT revision FROM taken`;
  }, ({ count, deliveries }) => `${count} ${deliveries}`);

  constructor(private readonly database: Database) {}

  get db() {
    return this.database.db;
  }

  async findById(
    executor: Executor,
    spaceId: string,
    id: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<RecordRow | undefined> {
    const [row] = await this.byId.run(executor, options.forUpdate === true && this.database.capabilities.rowLocks, [spaceId, id]);
    return row && { entity: row.entity, data: toRecord(row) };
  }

  async findManyByIds(executor: Executor, spaceId: string, ids: readonly string[]): Promise<RecordRow[]> {
    if (ids.length === 0) return [];
    const distinct = [...new Set(ids)];
    const rows = await this.byIds.run(executor, distinct.length, [spaceId, ...distinct]);
    return rows.map((row) => ({ entity: row.entity, data: toRecord(row) }));
  }

  /**
   * Live (not deleted) records of `entityName` whose `foreignKey` is one of `parentIds`, in id order.
   * Sorted here, not by the query: asked for id order, SQLite read every live record of the entity in
   * the space along the id index rather than the few the foreign key's index finds, then sorted.
   */
  async findChildren(
    executor: Executor,
    spaceId: string,
    entityName: string,
    foreignKey: string,
    parentIds: readonly string[],
  ): Promise<StoredRecord[]> {
    const rows = await this.findWithValues(executor, spaceId, entityName, foreignKey, parentIds);
    // Ids are UUIDs, ASCII: JavaScript's < is the databases' code point order.
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Live records of `entityName` whose text field `field` (an id, a name) is one of `values`, in no order. */
  async findWithValues(executor: Executor, spaceId: string, entityName: string, field: string, values: readonly string[]): Promise<StoredRecord[]> {
    if (values.length === 0) return [];
    const distinct = [...new Set(values)];
    const rows = await this.withValues.run(executor, { field, count: distinct.length }, [spaceId, entityName, ...distinct]);
    return rows.map(toRecord);
  }

  /**
   * The records that the live `entityName` records whose `field` is one of `values` refer to by their
   * `reference` field, in one statement where it took two: a webhook's subscriptions (WebhookEvent,
   * by event) to the webhooks. A record referred to more than once comes once.
   */
  async findReferencedBy(
    executor: Executor,
    spaceId: string,
    { entityName, field, values }: { entityName: string; field: string; values: readonly string[] },
    reference: string,
  ): Promise<RecordRow[]> {
    if (values.length === 0) return [];
    const distinct = [...new Set(values)];
    const rows = await this.referencedBy.run(executor, { field, count: distinct.length, reference }, [spaceId, entityName, ...distinct]);
    return rows.map((row) => ({ entity: row.entity, data: toRecord(row) }));
  }

  /**
   * Live records of an entity matching `conditions`: all of them, in no particular order (so that the
   * database can start from an index on a filtered field), or the first `limit` in id order.
   */
  async findWhere(
    executor: Executor,
    spaceId: string,
    entity: EntityDef,
    conditions: readonly FilterCondition[],
    limit?: number,
  ): Promise<StoredRecord[]> {
    let query = executor
      .selectFrom('records')
      .select(this.dataColumn())
      .where('space_id', '=', spaceId)
      .where('entity', '=', entity.name)
      .where('is_deleted', '=', 0)
      .where(sql<boolean>`${compileFilter(this.database.dialect, conditions)}`);
    if (limit !== undefined) query = query.orderBy(this.idOrder()).limit(limit);
    return (await query.execute()).map(toRecord);
  }

  async insert(executor: Executor, spaceId: string, entityName: string, data: StoredRecord): Promise<void> {
    await this.insertMany(executor, spaceId, entityName, [data]);
  }

  async insertMany(executor: Executor, spaceId: string, entityName: string, records: readonly StoredRecord[]): Promise<void> {
    const values = records.flatMap((data) => [spaceId, data.id, entityName, JSON.stringify(data), data.is_deleted === true ? 1 : 0]);
    await this.inserted.run(executor, records.length, values);
  }

  /** Replaces a record's document; `entityName` changes on a lead ↔ opportunity conversion. */
  async replace(executor: Executor, spaceId: string, entityName: string, data: StoredRecord): Promise<void> {
    await this.replaced.run(executor, 'one', [spaceId, data.id, entityName, JSON.stringify(data), data.is_deleted === true ? 1 : 0]);
  }

  /**
   * Advances the space's revision counter (reference §4.8: one counter per space, advanced per change)
   * by `count`; returns the last revision taken. On PostgreSQL the counter's row stays locked until
   * the transaction ends, so revisions are taken in commit order.
   */
  async takeRevisions(executor: Executor, spaceId: string, count = 1): Promise<number> {
    const [row] = await this.revisionsTaken.run(executor, 'one', [count, spaceId]);
    return Number(row!.revision);
  }

  /**
   * The next revision of the space, where the transaction holds the database to itself (SQLite): no
   * other write can take one before it commits, so its changes can carry their real revisions from
   * the start. Null elsewhere (PostgreSQL), where they are taken just before the commit.
   */
  async revisionsFrom(executor: Executor, spaceId: string): Promise<number | null> {
    if (!this.database.capabilities.writeLockedTransactions) return null;
    const [row] = await this.revisionRead.run(executor, 'one', [spaceId]);
    return row === undefined ? null : Number(row.revision) + 1;
  }

  /**
   * Takes a revision for each of `changed` (the ids of a write's changed records, in the order of the
   * changes), stores the i-th in the document of the record changed[i] (a record changed twice keeps
   * the later), stores the write's `deliveries`, rendered before (see DeliveryAwaitingRevisions), and
   * commits the transaction. Returns the last revision taken. Only where revisions are taken at the
   * end (PostgreSQL; see revisionsFrom). This runs in the write's turn (see EntityEngine.write), from
   * which the counter stays locked until the commit, so it takes one round trip: up to
   * REVISIONS_PER_STATEMENT records take and store theirs, with the deliveries, in one statement, and
   * the COMMIT goes with the last statement (see AND_COMMIT). Should a statement fail, the transaction
   * is left open, failed, for the caller's rollback.
   */
  async takeRevisionsAndCommit(
    executor: Executor,
    spaceId: string,
    changed: readonly string[],
    deliveries: readonly DeliveryAwaitingRevisions[],
  ): Promise<number> {
    if (this.database.capabilities.writeLockedTransactions) throw new Error('a SQLite write carries its revisions from the start (see revisionsFrom)');
    // Each record's revision less the last one taken: from 1 - changed.length to 0.
    const offsets = new Map<string, number>();
    for (const [index, id] of changed.entries()) offsets.set(id, index + 1 - changed.length);
    const entries = [...offsets];
    let last = 0;
    for (let start = 0; start < entries.length; start += REVISIONS_PER_STATEMENT) {
      const chunk = entries.slice(start, start + REVISIONS_PER_STATEMENT);
      // The counter advances in the first statement, which says the last revision and stores the deliveries.
      const withDeliveries = start === 0 && deliveries.length > 0;
      const values = [spaceId, ...chunk.flat(), start === 0 ? changed.length : 0, ...(withDeliveries ? enqueuedValues(deliveries) : [])];
      const andCommit = start + REVISIONS_PER_STATEMENT >= entries.length;
      const [row] = await this.revisionsTakenAndStored.run(executor, { count: chunk.length, deliveries: withDeliveries }, values, { andCommit });
      if (start === 0) last = Number(row!.revision);
    }
    return last;
  }

  async list(executor: Executor, query: ListQuery): Promise<ListResult> {
    const { dialect } = this.database;
    const keys = [
      ...query.sortKeys.map((key) => ({ expression: fieldExpression(dialect, key.field, key.type), descending: key.descending, nullable: true })),
      { expression: this.idExpression(), descending: false, nullable: false },
    ];
    const base = () => {
      let builder = executor
        .selectFrom('records')
        .where('space_id', '=', query.spaceId)
        .where('entity', '=', query.entity.name)
        .where(sql<boolean>`${compileFilter(dialect, query.conditions)}`);
      if (!query.includeDeleted) builder = builder.where('is_deleted', '=', 0);
      return builder;
    };

    let page = base().select(this.dataColumn());
    if (query.after) page = page.where(sql<boolean>`${this.keysetPredicate(keys, query.after, 'after')}`);
    if (query.before) page = page.where(sql<boolean>`${this.keysetPredicate(keys, query.before, 'before')}`);
    const fromEnd = query.last !== undefined && query.first === undefined;
    for (const key of keys) {
      const ascending = key.descending === fromEnd;
      // No NULLS clause on the id: PostgreSQL would then not use the index's order.
      const nulls = key.nullable ? sql.raw(ascending ? ' NULLS FIRST' : ' NULLS LAST') : sql.raw('');
      page = page.orderBy(ascending ? sql`${key.expression} ASC${nulls}` : sql`${key.expression} DESC${nulls}`);
    }
    const size = fromEnd ? query.last! : (query.first ?? 30);
    // The count and the page are independent; on PostgreSQL they run on two connections at once.
    const [totalRow, pageRows] = await Promise.all([
      base().select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
      page.limit(size + 1).execute(),
    ]);
    const total = Number(totalRow.total);
    let rows = pageRows.map(toRecord);
    const hasMore = rows.length > size;
    rows = rows.slice(0, size);
    let hasPrevious: boolean;
    let hasNext: boolean;
    if (fromEnd) {
      rows.reverse();
      hasPrevious = hasMore;
      hasNext = query.before !== undefined;
    } else {
      hasNext = hasMore;
      hasPrevious = query.after !== undefined;
      if (query.last !== undefined && rows.length > query.last) {
        rows = rows.slice(rows.length - query.last);
        hasPrevious = true;
      }
    }
    const cursorOf = (record: StoredRecord) =>
      encodeCursor([...query.sortKeys.map((key) => (record[key.field] ?? null) as CursorValue), record.id]);
    return {
      rows,
      total,
      pageInfo: {
        start_cursor: rows.length > 0 ? cursorOf(rows[0]) : null,
        end_cursor: rows.length > 0 ? cursorOf(rows[rows.length - 1]) : null,
        has_previous_page: hasPrevious,
        has_next_page: hasNext,
      },
    };
  }

  // SQLite keeps documents as JSONB (its binary JSON, 3.45+): json_extract reads it without parsing
  // text, which made filters that scan rows about twice as fast. PostgreSQL has its own jsonb.
  private encodedData(json: unknown): unknown {
    return this.database.dialect === 'sqlite' ? sql`jsonb(${json})` : json;
  }

  /** Live records of the entity in `slot(1)` whose `field` is one of the `count` values after it, in the space in `slot(0)`. */
  private liveWithValues(slot: (index: number) => never, field: string, count: number) {
    return this.db
      .selectFrom('records')
      .where('space_id', '=', slot(0))
      .where('entity', '=', slot(1))
      .where('is_deleted', '=', 0)
      .where(sql<boolean>`${fieldExpression(this.database.dialect, field, 'uuid')} IN (${sql.join(slots(slot, 2, count))})`);
  }

  private dataColumn() {
    return this.database.dialect === 'sqlite' ? sql<string>`json(data)`.as('data') : sql<unknown>`data`.as('data');
  }

  // Ids compare by code point on both databases, like every other text key.
  private idExpression(): Sql {
    return this.database.dialect === 'postgres' ? sql.raw('(id COLLATE "C")') : sql.raw('id');
  }

  private idOrder(): Sql {
    return sql`${this.idExpression()} ASC`;
  }

  /**
   * Rows strictly after (or before) the cursor in the order ASC NULLS FIRST / DESC NULLS LAST:
   * OR over each key i of (all earlier keys equal AND key i beyond the cursor's value).
   */
  private keysetPredicate(
    keys: readonly { expression: Sql; descending: boolean }[],
    cursor: readonly CursorValue[],
    direction: 'after' | 'before',
  ): Sql {
    const { dialect } = this.database;
    const equal = (expression: Sql, value: CursorValue) =>
      value === null ? sql`${expression} IS NULL` : sql`${expression} = ${bindValue(dialect, value)}`;
    const beyond = (expression: Sql, value: CursorValue, towardsLarger: boolean) => {
      if (towardsLarger) return value === null ? sql`${expression} IS NOT NULL` : sql`${expression} > ${bindValue(dialect, value)}`;
      return value === null ? sql`1 = 0` : sql`(${expression} < ${bindValue(dialect, value)} OR ${expression} IS NULL)`;
    };
    const alternatives = keys.map((key, index) => {
      const towardsLarger = key.descending === (direction === 'before');
      const parts = keys.slice(0, index).map((earlier, position) => equal(earlier.expression, cursor[position]));
      parts.push(beyond(key.expression, cursor[index], towardsLarger));
      return sql`(${sql.join(parts, sql` AND `)})`;
    });
    return sql`(${sql.join(alternatives, sql` OR `)})`;
  }
}
