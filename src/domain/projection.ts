// `expand` and `load-only` (reference §4.3): parsing dotted paths into a projection tree, and rendering
// a stored record into its API form. Relations are URI strings unless expanded; `id` is always kept.
// The store loads what the tree needs (store/related-loader.ts); rendering itself is pure.
import { relationKey, type Catalogue, type EntityDef } from './catalogue.js';

export interface ProjectionNode {
  /** Relation name → how to render the related entity or entities. */
  readonly expand: Map<string, ProjectionNode>;
  /** The keys to keep; null keeps every key. */
  readonly loadOnly: Set<string> | null;
}

export type StoredRecord = Readonly<Record<string, unknown>> & { readonly id: string };

export type RelationKind =
  | { kind: 'toOne'; field: string; targets: readonly string[] }
  | { kind: 'toMany'; entity: string; foreignKey: string }
  | { kind: 'derived'; via: string; targetField: string; targets: readonly string[] };

/** What `key` is on `entity`: a to-one relation (`owner`), a to-many one, a derived one, or nothing. */
export function describeRelation(entity: EntityDef, key: string): RelationKind | undefined {
  const field = `${key}_id`;
  const fieldDef = entity.fields[field];
  if (fieldDef?.relation) return { kind: 'toOne', field, targets: fieldDef.relation };
  const toMany = entity.toMany[key];
  if (toMany) return { kind: 'toMany', entity: toMany.entity, foreignKey: toMany.foreignKey };
  const derived = entity.derived[key];
  if (derived) return { kind: 'derived', via: derived.via, targetField: derived.targetField, targets: derived.target };
  return undefined;
}

export const relationTargets = (relation: RelationKind): readonly string[] =>
  relation.kind === 'toMany' ? [relation.entity] : relation.targets;

/** A key an entity renders, with the relation it is (undefined for a plain field). */
type RenderedKey = readonly [key: string, relation: RelationKind | undefined];

const renderedKeysOf = new WeakMap<EntityDef, readonly RenderedKey[]>();

/**
 * Every key an entity renders (its fields, its to-one relation keys, to-many and derived relations),
 * each with its relation. Worked out once per entity, as the catalogue never changes: worked out per
 * render, it was 2.5 % of the serving thread's samples in a profile of the steady scenario on SQLite.
 */
export function renderedKeys(entity: EntityDef): readonly RenderedKey[] {
  let keys = renderedKeysOf.get(entity);
  if (keys === undefined) {
    const names = Object.keys(entity.fields).filter((field) => !entity.fields[field].hidden);
    for (const [field, definition] of Object.entries(entity.fields)) {
      if (definition.relation) names.push(relationKey(field));
    }
    keys = [...names, ...Object.keys(entity.toMany), ...Object.keys(entity.derived)].map((key) => [key, describeRelation(entity, key)] as const);
    renderedKeysOf.set(entity, keys);
  }
  return keys;
}

export class ProjectionError extends Error {}

/**
 * Parses `expand` and `load-only` paths. In strict mode (the REST API) an unknown path is an error;
 * otherwise (webhook options, reference §7 q19) it is ignored.
 */
export function parseProjection(
  catalogue: Catalogue,
  entity: EntityDef,
  expandPaths: readonly string[],
  loadOnlyPaths: readonly string[],
  strict: boolean,
): ProjectionNode {
  const root = newNode(loadOnlyPaths.length > 0);
  for (const path of expandPaths) addPath(catalogue, entity, root, path.split('.'), 'expand', strict, path);
  for (const path of loadOnlyPaths) addPath(catalogue, entity, root, path.split('.'), 'load-only', strict, path);
  return root;
}

/** A projection's shape as text: equal for equal projections, however they were written. */
export function projectionKey(node: ProjectionNode): string {
  const expanded = [...node.expand].sort(([one], [other]) => (one < other ? -1 : 1)).map(([key, child]) => `${key}(${projectionKey(child)})`);
  const kept = node.loadOnly === null ? '*' : [...node.loadOnly].sort().join(',');
  return `${kept};${expanded.join(',')}`;
}

const newNode = (restricted: boolean): ProjectionNode => ({
  expand: new Map(),
  loadOnly: restricted ? new Set(['id']) : null,
});

function addPath(
  catalogue: Catalogue,
  entity: EntityDef,
  node: ProjectionNode,
  segments: string[],
  parameter: 'expand' | 'load-only',
  strict: boolean,
  fullPath: string,
): void {
  const [key, ...rest] = segments;
  const unknown = () => {
    if (strict) throw new ProjectionError(`${parameter} path '${fullPath}': ${entity.name} has no '${key}'.`);
  };
  const relation = describeRelation(entity, key);
  const isField = key in entity.fields;
  if (!relation && !isField) return unknown();
  if (parameter === 'load-only' && rest.length === 0) {
    node.loadOnly?.add(key);
    return;
  }
  if (!relation) return unknown();
  node.loadOnly?.add(key);
  let child = node.expand.get(key);
  if (!child) {
    child = newNode(parameter === 'load-only');
    node.expand.set(key, child);
  } else if (parameter === 'load-only' && child.loadOnly === null && child.expand.size === 0 && rest.length > 0) {
    // expand=x then load-only=x.y: restrict what x renders.
    child = { expand: child.expand, loadOnly: new Set(['id']) };
    node.expand.set(key, child);
  }
  if (rest.length === 0) return;
  const target = catalogue.find(relationTargets(relation)[0]);
  if (!target) return unknown();
  addPath(catalogue, target, child, rest, parameter, strict, fullPath);
}

export const includes = (node: ProjectionNode, key: string) => node.loadOnly === null || node.loadOnly.has(key);

/** Read access to the related records the loader fetched for one render. */
export interface RelatedRecords {
  byId(id: string): (StoredRecord & { readonly entityName: string }) | undefined;
  children(entity: string, foreignKey: string, parentId: string): readonly StoredRecord[];
}

export type UriFor = (entityName: string, id: string) => string;

export function renderRecord(
  catalogue: Catalogue,
  entity: EntityDef,
  record: StoredRecord,
  node: ProjectionNode,
  related: RelatedRecords,
  uriFor: UriFor,
): Record<string, unknown> {
  const output: Record<string, unknown> = {};
  for (const [key, relation] of renderedKeys(entity)) {
    if (!includes(node, key)) continue;
    if (!relation) {
      output[key] = record[key] ?? null;
      continue;
    }
    const child = node.expand.get(key);
    const renderOne = (relatedRecord: (StoredRecord & { entityName?: string }) | undefined, fallbackEntity: string, id: unknown) => {
      if (typeof id !== 'string') return null;
      const entityName = relatedRecord?.entityName ?? fallbackEntity;
      if (!child) return uriFor(entityName, id);
      if (!relatedRecord) return null;
      return renderRecord(catalogue, catalogue.get(entityName), relatedRecord, child, related, uriFor);
    };
    if (relation.kind === 'toOne') {
      const id = record[relation.field];
      output[key] = renderOne(typeof id === 'string' ? related.byId(id) : undefined, relation.targets[0], id);
    } else if (relation.kind === 'toMany') {
      output[key] = related
        .children(relation.entity, relation.foreignKey, record.id)
        .map((row) => renderOne({ ...row, entityName: relation.entity }, relation.entity, row.id));
    } else {
      const id = primaryTargetId(entity, record, relation, related);
      output[key] = renderOne(id ? related.byId(id) : undefined, relation.targets[0], id);
    }
  }
  return output;
}

/** The target of a derived relation: the primary row of the via relation, else its first row. */
export function primaryTargetId(
  entity: EntityDef,
  record: StoredRecord,
  relation: Extract<RelationKind, { kind: 'derived' }>,
  related: RelatedRecords,
): string | null {
  const via = entity.toMany[relation.via];
  const rows = related.children(via.entity, via.foreignKey, record.id);
  const primary = rows.find((row) => row.is_primary === true) ?? rows[0];
  const id = primary?.[relation.targetField];
  return typeof id === 'string' ? id : null;
}
