// Loads, in a few batched queries, the related records that rendering a set of records needs under a
// projection: expanded relations (recursively), to-many relation ids for their URIs, and the targets
// of relations that may point at more than one entity type (their URI names the type).
import type { Catalogue, EntityDef } from '../domain/catalogue.js';
import type { RecordChange } from '../domain/event-derivation.js';
import {
  includes,
  primaryTargetId,
  renderedKeys,
  type ProjectionNode,
  type RelatedRecords,
  type StoredRecord,
} from '../domain/projection.js';
import type { Executor } from './database.js';
import type { RecordStore } from './record-store.js';

type Related = StoredRecord & { readonly entityName: string };

export async function loadRelated(
  store: RecordStore,
  executor: Executor,
  catalogue: Catalogue,
  spaceId: string,
  entity: EntityDef,
  records: readonly StoredRecord[],
  node: ProjectionNode,
  write: readonly RecordChange[] = [],
): Promise<RelatedRecords> {
  // A record this write created can have children only among the records of the same write: until it
  // existed nothing could point at it (a relation must point at a record that exists). So its children
  // are found among the write's changes, without a query (two of an account's creation's ten round
  // trips on PostgreSQL).
  // The write's records as they now stand, by entity, and the ids it created: read off its changes
  // once, when a render first asks for children.
  let written: { readonly created: ReadonlySet<string>; readonly byEntity: ReadonlyMap<string, Map<string, StoredRecord>> } | null = null;
  const writtenRecords = () => {
    if (written) return written;
    const created = new Set<string>();
    const byEntity = new Map<string, Map<string, StoredRecord>>();
    for (const { operation, entity: entityName, after } of write) {
      if (operation === 'create') created.add(after.id);
      let latest = byEntity.get(entityName);
      if (!latest) byEntity.set(entityName, (latest = new Map()));
      latest.set(after.id, after);
    }
    return (written = { created, byEntity });
  };
  const writtenChildren = (entityName: string, foreignKey: string, parentId: string) =>
    [...(writtenRecords().byEntity.get(entityName)?.values() ?? [])]
      .filter((record) => record[foreignKey] === parentId && record.is_deleted !== true)
      .sort((one, other) => (one.id < other.id ? -1 : 1));
  const byId = new Map<string, Related>();
  const children = new Map<string, StoredRecord[]>();
  const childKey = (entityName: string, foreignKey: string, parentId: string) => `${entityName}|${foreignKey}|${parentId}`;
  const related: RelatedRecords = {
    byId: (id) => byId.get(id),
    children: (entityName, foreignKey, parentId) => children.get(childKey(entityName, foreignKey, parentId)) ?? [],
  };

  const fetchByIds = async (ids: readonly string[]) => {
    const missing = ids.filter((id) => !byId.has(id));
    for (const row of await store.findManyByIds(executor, spaceId, missing)) {
      byId.set(row.data.id, { ...row.data, entityName: row.entity });
    }
    return ids.map((id) => byId.get(id)).filter((row): row is Related => row !== undefined);
  };

  const fetchChildren = async (entityName: string, foreignKey: string, parents: readonly StoredRecord[]) => {
    const missing = parents.filter((parent) => !children.has(childKey(entityName, foreignKey, parent.id)));
    const { created } = writtenRecords();
    for (const parent of missing) {
      children.set(childKey(entityName, foreignKey, parent.id), created.has(parent.id) ? writtenChildren(entityName, foreignKey, parent.id) : []);
    }
    const stored = missing.filter((parent) => !created.has(parent.id));
    const rows = stored.length === 0 ? [] : await store.findChildren(executor, spaceId, entityName, foreignKey, stored.map((parent) => parent.id));
    for (const row of rows) children.get(childKey(entityName, foreignKey, row[foreignKey] as string))?.push(row);
    return parents.flatMap((parent) => children.get(childKey(entityName, foreignKey, parent.id)) ?? []);
  };

  const expandEach = async (rows: readonly Related[], child: ProjectionNode) => {
    const byEntity = new Map<string, Related[]>();
    for (const row of rows) byEntity.set(row.entityName, [...(byEntity.get(row.entityName) ?? []), row]);
    for (const [entityName, group] of byEntity) await collect(catalogue.get(entityName), group, child);
  };

  async function collect(current: EntityDef, rows: readonly StoredRecord[], currentNode: ProjectionNode): Promise<void> {
    if (rows.length === 0) return;
    for (const [key, relation] of renderedKeys(current)) {
      if (!relation || !includes(currentNode, key)) continue;
      const child = currentNode.expand.get(key);
      if (relation.kind === 'toOne') {
        if (!child && relation.targets.length === 1) continue;
        const targets = await fetchByIds(rows.map((row) => row[relation.field]).filter((id): id is string => typeof id === 'string'));
        if (child) await expandEach(targets, child);
      } else if (relation.kind === 'toMany') {
        const found = await fetchChildren(relation.entity, relation.foreignKey, rows);
        if (child) await collect(catalogue.get(relation.entity), found, child);
      } else {
        const via = current.toMany[relation.via];
        await fetchChildren(via.entity, via.foreignKey, rows);
        if (!child) continue;
        const ids = rows.map((row) => primaryTargetId(current, row, relation, related)).filter((id): id is string => id !== null);
        await expandEach(await fetchByIds(ids), child);
      }
    }
  }

  await collect(entity, records, node);
  return related;
}
