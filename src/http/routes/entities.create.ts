import { single } from '../envelopes.js';
import { writeQuerySchema } from '../openapi-schemas.js';
import { parseProjectionQuery, parseWriteQuery } from '../query.js';
import { collectionPath, envelopeOf, errorResponses, spaceParams, type EntityRequest, type EntityRoute } from './context.js';

export const createEntity: EntityRoute = (app, { engine, catalogue }, entity) => {
  app.post<EntityRequest>(collectionPath(entity), {
    schema: {
      tags: [entity.name],
      summary: `Create a ${entity.name}`,
      params: spaceParams,
      querystring: writeQuerySchema,
      body: { $ref: `${entity.name}CreateInput#` },
      response: {
        201: envelopeOf({ $ref: `${entity.name}#` }, `The created ${entity.name}`),
        422: { description: 'ERROR_ENTITY_VALIDATION with field_errors', $ref: 'Error#' },
        ...errorResponses,
      },
    },
    handler: async (request, reply) => {
      const writeRequest = parseWriteQuery(request.query, request.headers);
      const projection = parseProjectionQuery(catalogue, entity, request.query);
      const created = await engine.create(request.params.spaceId, entity, request.body, writeRequest, projection);
      return reply.code(201).send(single(created));
    },
  });
};
