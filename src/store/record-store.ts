// The EntityStore port's one implementation: CRM records as JSON documents in `records`, on SQLite or
// PostgreSQL. Every query is scoped to one space. One operation per method.
import { sql, type RawBuilder } from 'kysely';
import type { EntityDef } from '../domain/catalogue.js';
import type { FilterCondition } from '../domain/filter.js';
import { encodeCursor, type CursorValue, type PageInfo, type SortKey } from '../domain/pagination.js';
import type { StoredRecord } from '../domain/projection.js';
import { decodeJson, type Database, type Executor } from './database.js';
import { bindValue, fieldExpression } from './json-fields.js';
import { compileFilter } from './sql-filter.js';

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

/** Records per revision update: two parameters each, well under SQLite's limit. */
const REVISIONS_PER_STATEMENT = 500;

const toRecord = (row: { data: unknown }) => decodeJson(row.data) as StoredRecord;

export class RecordStore {
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
    let query = executor
      .selectFrom('records')
      .select(['entity', this.dataColumn()])
      .where('space_id', '=', spaceId)
      .where('id', '=', id);
    if (options.forUpdate && this.database.capabilities.rowLocks) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row && { entity: row.entity, data: toRecord(row) };
  }

  async findManyByIds(executor: Executor, spaceId: string, ids: readonly string[]): Promise<RecordRow[]> {
    if (ids.length === 0) return [];
    const rows = await executor
      .selectFrom('records')
      .select(['entity', this.dataColumn()])
      .where('space_id', '=', spaceId)
      .where('id', 'in', [...new Set(ids)])
      .execute();
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
    if (parentIds.length === 0) return [];
    const key = fieldExpression(this.database.dialect, foreignKey, 'uuid');
    const rows = await executor
      .selectFrom('records')
      .select(this.dataColumn())
      .where('space_id', '=', spaceId)
      .where('entity', '=', entityName)
      .where('is_deleted', '=', 0)
      .where(sql<boolean>`${key} IN (${sql.join([...new Set(parentIds)])})`)
      .execute();
    // Ids are UUIDs, ASCII: JavaScript's < is the databases' code point order.
    return rows.map(toRecord).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
    await executor
      .insertInto('records')
      .values(
        records.map((data) => ({
          space_id: spaceId,
          id: data.id,
          entity: entityName,
          data: this.encodeData(data),
          is_deleted: data.is_deleted === true ? 1 : 0,
        })),
      )
      .execute();
  }

  /** Replaces a record's document; `entityName` changes on a lead ↔ opportunity conversion. */
  async replace(executor: Executor, spaceId: string, entityName: string, data: StoredRecord): Promise<void> {
    await executor
      .updateTable('records')
      .set({ entity: entityName, data: this.encodeData(data), is_deleted: data.is_deleted === true ? 1 : 0 })
      .where('space_id', '=', spaceId)
      .where('id', '=', data.id)
      .execute();
  }

  /**
   * Advances the space's revision counter (reference §4.8: one counter per space, advanced per change)
   * by `count`; returns the last revision taken. On PostgreSQL the counter's row stays locked until
   * the transaction ends, so revisions are taken in commit order.
   */
  async takeRevisions(executor: Executor, spaceId: string, count = 1): Promise<number> {
    const row = await executor
      .updateTable('spaces')
      .set((eb) => ({ revision: eb('revision', '+', count) }))
      .where('id', '=', spaceId)
      .returning('revision')
      .executeTakeFirstOrThrow();
    return Number(row.revision);
  }

  /** Sets the `revision` stored in each record's document: record id → revision. */
  async setRevisions(executor: Executor, spaceId: string, revisions: ReadonlyMap<string, number>): Promise<void> {
    const entries = [...revisions];
    const revised = this.database.dialect === 'postgres'
      ? sql`jsonb_set(data, '{revision}', to_jsonb(v.column2))`
      : sql`jsonb_set(data, '$.revision', v.column2)`;
    for (let start = 0; start < entries.length; start += REVISIONS_PER_STATEMENT) {
      // VALUES columns are named column1, column2 on both databases; the casts type PostgreSQL's parameters.
      const values = entries.slice(start, start + REVISIONS_PER_STATEMENT).map(([id, revision]) => sql`(CAST(${id} AS TEXT), CAST(${revision} AS BIGINT))`);
      await sql`
        UPDATE records SET data = ${revised}
        FROM (VALUES ${sql.join(values)}) AS v
        WHERE records.space_id = ${spaceId} AND records.id = v.column1`.execute(executor);
    }
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
  private encodeData(data: StoredRecord): unknown {
    const text = JSON.stringify(data);
    return this.database.dialect === 'sqlite' ? sql`jsonb(${text})` : text;
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
