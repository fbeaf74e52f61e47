import type { BatchRequest, BatchResult, EntityEngine } from '../../engine/entity-engine.js';
import type { EntityDef } from '../../domain/catalogue.js';
import { single } from '../envelopes.js';
import { batchQuerySchema } from '../openapi-schemas.js';
import { parseBatchQuery } from '../query.js';
import { collectionPath, envelopeOf, errorResponses, spaceParams, type EntityRequest, type EntityRoute } from './context.js';

type BatchOperation = (engine: EntityEngine, spaceId: string, entity: EntityDef, body: unknown, request: BatchRequest) => Promise<BatchResult[]>;

const operations: { path: string; summary: string; body: (entity: EntityDef) => Record<string, unknown>; run: BatchOperation }[] = [
  {
    path: 'batch-modify',
    summary: 'Create or update many: items with an id update, items without one create',
    body: (entity) => ({ type: 'array', items: { $ref: `${entity.name}UpdateInput#` } }),
    run: (engine, spaceId, entity, body, request) => engine.batchModify(spaceId, entity, body, request),
  },
  {
    path: 'batch-delete',
    summary: 'Delete many (soft)',
    body: () => ({ type: 'array', items: { type: 'string', format: 'uuid' } }),
    run: (engine, spaceId, entity, body, request) => engine.batchDelete(spaceId, entity, body, request),
  },
  {
    path: 'batch-restore',
    summary: 'Restore many deleted records',
    body: () => ({ type: 'array', items: { type: 'string', format: 'uuid' } }),
    run: (engine, spaceId, entity, body, request) => engine.batchRestore(spaceId, entity, body, request),
  },
];

export const batchEntities: EntityRoute = (app, { engine }, entity) => {
  for (const operation of operations) {
    app.post<EntityRequest>(`${collectionPath(entity)}/${operation.path}`, {
      schema: {
        tags: [entity.name],
        summary: `${operation.summary} (${entity.plural})`,
        description: 'rollback-method 0: an invalid item fails the whole batch; 1: invalid items are skipped and reported in place.',
        params: spaceParams,
        querystring: batchQuerySchema,
        body: operation.body(entity),
        response: {
          200: envelopeOf({ type: 'array', items: { description: 'The id, or an Error object for a skipped item' } }, 'One entry per item'),
          422: { description: 'With rollback-method 0: the first invalid item', $ref: 'Error#' },
          ...errorResponses,
        },
      },
      handler: async (request) =>
        single(await operation.run(engine, request.params.spaceId, entity, request.body, parseBatchQuery(request.query, request.headers))),
    });
  }
};
