// The shape of the entity catalogue. Entities are declared as data (entities.ts); one generic engine
// validates, stores, filters, projects and renders them all from these declarations.

export type FieldType =
  | 'string' // short text
  | 'text' // long text
  | 'integer'
  | 'float'
  | 'boolean'
  | 'date' // YYYY-MM-DD
  | 'datetime' // canonical Pipeliner date-time
  | 'uuid'
  | 'string[]'
  | 'money' // {base_value, value_foreign, currency_id}
  | 'json'; // a JSON object (webhook options)

export interface FieldDef {
  readonly type: FieldType;
  readonly required?: boolean;
  readonly readOnly?: boolean;
  /** Kept by the engine for itself: never rendered, never written through the API (a past secret). */
  readonly hidden?: boolean;
  /** Allowed values of an enum field. */
  readonly enum?: readonly (number | string)[];
  /** A to-one relation: this `<name>_id` field points at one of these entity types. */
  readonly relation?: readonly string[];
  readonly default?: unknown;
  readonly description?: string;
}

/** A to-many relation rendered on the parent: the rows of `entity` whose `foreignKey` is the parent id. */
export interface ToManyDef {
  readonly entity: string;
  readonly foreignKey: string;
  /** Written inline on create / PATCH of the parent (e.g. Contact `account_relations`). */
  readonly writable?: boolean;
}

/** A to-one relation derived from a to-many one, e.g. Contact `primary_account`. */
export interface DerivedRelationDef {
  readonly via: string; // the to-many relation name on this entity
  readonly targetField: string; // the field of the via-row that points at the target
  readonly target: readonly string[];
}

export interface EntityDef {
  readonly name: string;
  readonly plural: string;
  readonly fields: Readonly<Record<string, FieldDef>>;
  readonly toMany: Readonly<Record<string, ToManyDef>>;
  readonly derived: Readonly<Record<string, DerivedRelationDef>>;
  /** Groups of fields of which at least one must be set (Contact: first_name or last_name). */
  readonly requireOneOf: readonly (readonly string[])[];
  readonly description: string;
}

/** Fields every entity has (reference §4.8). */
export const baseFields: Readonly<Record<string, FieldDef>> = {
  id: { type: 'uuid', readOnly: true },
  is_deleted: { type: 'boolean', readOnly: true, default: false },
  is_delete_protected: { type: 'boolean', readOnly: true, default: false },
  created: { type: 'datetime', readOnly: true },
  modified: { type: 'datetime', readOnly: true },
  revision: { type: 'integer', readOnly: true },
};

export const systemFieldNames = new Set(Object.keys(baseFields));

/** `owner_id` → `owner`: the key a to-one relation is rendered under. */
export const relationKey = (fieldName: string) => fieldName.replace(/_id$/, '');

export const isTextual = (type: FieldType) =>
  type === 'string' || type === 'text' || type === 'uuid' || type === 'date' || type === 'datetime';

export const isScalar = (type: FieldType) => type !== 'string[]' && type !== 'json' && type !== 'money';

export class Catalogue {
  private readonly byName = new Map<string, EntityDef>();
  private readonly byPlural = new Map<string, EntityDef>();

  constructor(readonly entities: readonly EntityDef[]) {
    for (const entity of entities) {
      this.byName.set(entity.name, entity);
      this.byPlural.set(entity.plural, entity);
    }
  }

  get(name: string): EntityDef {
    const entity = this.byName.get(name);
    if (!entity) throw new Error(`unknown entity ${name}`);
    return entity;
  }

  find(name: string): EntityDef | undefined {
    return this.byName.get(name);
  }

  findByPlural(plural: string): EntityDef | undefined {
    return this.byPlural.get(plural);
  }

  /** Relation key (`owner`) → its `_id` field definition, for to-one relations of an entity. */
  toOneRelations(entity: EntityDef): Map<string, { field: string; targets: readonly string[] }> {
    const relations = new Map<string, { field: string; targets: readonly string[] }>();
    for (const [field, def] of Object.entries(entity.fields)) {
      if (def.relation) relations.set(relationKey(field), { field, targets: def.relation });
    }
    return relations;
  }
}
