import { single } from '../envelopes.js';
import { writeQuerySchema } from '../openapi-schemas.js';
import { parseProjectionQuery, parseWriteQuery } from '../query.js';
import { envelopeOf, errorResponses, recordParams, recordPath, type EntityRequest, type EntityRoute } from './context.js';

export const updateEntity: EntityRoute = (app, { engine, catalogue }, entity) => {
  app.patch<EntityRequest>(recordPath(entity), {
    schema: {
      tags: [entity.name],
      summary: `Update a ${entity.name} (partial)`,
      params: recordParams,
      querystring: writeQuerySchema,
      body: { $ref: `${entity.name}UpdateInput#` },
      response: {
        200: envelopeOf({ $ref: `${entity.name}#` }, `The updated ${entity.name}`),
        404: { description: 'No such record in this space', $ref: 'Error#' },
        422: { description: 'ERROR_ENTITY_VALIDATION with field_errors', $ref: 'Error#' },
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const writeRequest = parseWriteQuery(request.query, request.headers);
      const projection = parseProjectionQuery(catalogue, entity, request.query);
      const { spaceId, id } = request.params;
      return single(await engine.update(spaceId, entity, id, request.body, writeRequest, projection));
    },
  });
};
