import { single } from '../envelopes.js';
import { writeQuerySchema } from '../openapi-schemas.js';
import { parseWriteQuery } from '../query.js';
import { envelopeOf, errorResponses, recordParams, recordPath, type EntityRequest, type EntityRoute } from './context.js';

export const deleteEntity: EntityRoute = (app, { engine }, entity) => {
  app.delete<EntityRequest>(recordPath(entity), {
    schema: {
      tags: [entity.name],
      summary: `Delete a ${entity.name} (soft: batch-restore brings it back)`,
      params: recordParams,
      querystring: writeQuerySchema,
      response: {
        200: envelopeOf({ type: 'string', description: 'The deleted id' }, 'Deleted'),
        404: { description: 'No such record in this space', $ref: 'Error#' },
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const writeRequest = parseWriteQuery(request.query, request.headers);
      return single(await engine.delete(request.params.spaceId, entity, request.params.id, writeRequest));
    },
  });
};
