// JSON Schemas for the OpenAPI document, generated from the entity catalogue: the catalogue is the one
// description of every entity. They document the API; the entity engine does the validating, because
// Pipeliner's 422 `field_errors` report is richer than a schema validator's.
import { relationKey, type EntityDef, type FieldDef } from '../domain/catalogue.js';
import { filterOperators } from '../domain/filter.js';

type JsonSchema = Record<string, unknown>;

function fieldSchema(definition: FieldDef): JsonSchema {
  const base: JsonSchema = (() => {
    switch (definition.type) {
      case 'integer':
        return { type: 'integer' };
      case 'float':
        return { type: 'number' };
      case 'boolean':
        return { type: 'boolean' };
      case 'date':
        return { type: 'string', format: 'date' };
      case 'datetime':
        return { type: 'string', description: 'YYYY-MM-DD HH:MM:SS.ffffff+00:00 (any ISO-8601 accepted)' };
      case 'uuid':
        return { type: 'string', format: 'uuid' };
      case 'string[]':
        return { type: 'array', items: { type: 'string' } };
      case 'money':
        return {
          type: 'object',
          properties: { base_value: { type: 'number' }, value_foreign: { type: 'number' }, currency_id: { type: 'string', format: 'uuid' } },
        };
      case 'json':
        return { type: 'object', additionalProperties: true };
      default:
        return { type: 'string' };
    }
  })();
  if (definition.enum) base.enum = [...definition.enum];
  const notes = [definition.description, definition.readOnly ? 'Read-only.' : undefined].filter(Boolean);
  if (notes.length > 0) base.description = notes.join(' ');
  return { ...base, nullable: !definition.required };
}

/** The entity as the API returns it (relations as URIs unless expanded). */
export function entityOutputSchema(entity: EntityDef): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [field, definition] of Object.entries(entity.fields)) {
    if (definition.hidden) continue;
    properties[field] = fieldSchema(definition);
    if (definition.relation) {
      properties[relationKey(field)] = {
        description: `${definition.relation.join(' or ')}: a URI, or the object when expanded`,
        oneOf: [{ type: 'string' }, { type: 'object', additionalProperties: true }],
        nullable: true,
      };
    }
  }
  for (const [name, relation] of Object.entries(entity.toMany)) {
    properties[name] = {
      type: 'array',
      description: `${relation.entity} records: URIs, or objects when expanded`,
      items: { oneOf: [{ type: 'string' }, { type: 'object', additionalProperties: true }] },
    };
  }
  for (const [name, derived] of Object.entries(entity.derived)) {
    properties[name] = { description: `The primary ${derived.target.join(' or ')}: a URI, or the object when expanded`, nullable: true };
  }
  return { $id: entity.name, type: 'object', description: entity.description, properties };
}

/** What create accepts: the writable fields, with the required ones marked. */
export function entityInputSchema(entity: EntityDef, forUpdate: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [field, definition] of Object.entries(entity.fields)) {
    if (definition.readOnly || definition.hidden) continue;
    properties[field] = fieldSchema(definition);
    if (definition.required && !forUpdate) required.push(field);
  }
  for (const [name, relation] of Object.entries(entity.toMany)) {
    if (relation.writable) {
      properties[name] = {
        type: 'array',
        description: `${relation.entity} rows to keep: items with an id update that row, items without one create a row; rows left out are deleted`,
        items: { type: 'object', additionalProperties: true },
      };
    }
  }
  return {
    $id: `${entity.name}${forUpdate ? 'Update' : 'Create'}Input`,
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
  };
}

export const errorSchema: JsonSchema = {
  $id: 'Error',
  type: 'object',
  properties: {
    success: { type: 'boolean', enum: [false] },
    http_status: { type: 'integer' },
    code: { type: 'integer' },
    name: { type: 'string' },
    message: { type: 'string' },
    field_errors: { type: 'array', items: { type: 'object', additionalProperties: true } },
    entity_index: { type: 'integer', nullable: true },
  },
  required: ['success', 'http_status', 'code', 'name', 'message'],
};

export const listQuerySchema: JsonSchema = {
  type: 'object',
  properties: {
    first: { type: 'integer', minimum: 1, maximum: 100, description: 'Page size (default 30)' },
    last: { type: 'integer', minimum: 1, maximum: 100, description: 'The last N of the window' },
    after: { type: 'string', description: 'end_cursor of the previous page' },
    before: { type: 'string', description: 'start_cursor of the next page' },
    'order-by': { type: 'string', description: 'Comma list of fields; `-field` sorts descending' },
    'include-deleted': { type: 'boolean' },
    expand: { type: 'string', description: 'Comma list of relations to expand; dots for nested ones' },
    'load-only': { type: 'string', description: 'Comma list of fields to return; dots select nested fields' },
    'filter[<field>]': { type: 'string', description: 'Value(s) the field must match; a comma list means any of' },
    'filter-op[<field>]': { type: 'string', enum: [...filterOperators], description: 'Operator for filter[<field>] (default eq)' },
  },
};

const validationLevelSchema: JsonSchema = {
  type: 'integer',
  description: 'Bit mask: 2 changed fields only, 4 system fields only, 8 override read-only, 16 allow deleted relations',
};

export const writeQuerySchema: JsonSchema = {
  type: 'object',
  properties: {
    'validation-level': validationLevelSchema,
    expand: { type: 'string' },
    'load-only': { type: 'string' },
  },
};

export const batchQuerySchema: JsonSchema = {
  type: 'object',
  properties: {
    'validation-level': validationLevelSchema,
    'rollback-method': { type: 'integer', enum: [0, 1], description: '0: all or nothing (default); 1: skip invalid items' },
  },
};
