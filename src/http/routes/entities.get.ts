import { single } from '../envelopes.js';
import { parseGetQuery } from '../query.js';
import { envelopeOf, errorResponses, recordParams, recordPath, type EntityRequest, type EntityRoute } from './context.js';

export const getEntity: EntityRoute = (app, { engine, catalogue }, entity) => {
  app.get<EntityRequest>(recordPath(entity), {
    schema: {
      tags: [entity.name],
      summary: `Get one ${entity.name}`,
      params: recordParams,
      querystring: { type: 'object', properties: { expand: { type: 'string' }, 'load-only': { type: 'string' } } },
      response: {
        200: envelopeOf({ $ref: `${entity.name}#` }, `The ${entity.name}`),
        404: { description: 'No such record in this space', $ref: 'Error#' },
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const projection = parseGetQuery(catalogue, entity, request.query);
      return single(await engine.get(request.params.spaceId, entity, request.params.id, projection));
    },
  });
};
