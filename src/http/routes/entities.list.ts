import { listed } from '../envelopes.js';
import { parseListQuery } from '../query.js';
import { listQuerySchema } from '../openapi-schemas.js';
import { collectionPath, errorResponses, spaceParams, type EntityRequest, type EntityRoute } from './context.js';

export const listEntities: EntityRoute = (app, { engine, catalogue }, entity) => {
  app.get<EntityRequest>(collectionPath(entity), {
    schema: {
      tags: [entity.name],
      summary: `List ${entity.plural}`,
      description: 'Filter with filter[<field>] / filter-op[<field>], page with first / after (cursors from page_info).',
      params: spaceParams,
      querystring: listQuerySchema,
      response: {
        200: {
          description: 'A page of records',
          type: 'object',
          properties: {
            success: { type: 'boolean' },
            total: { type: 'integer' },
            page_info: { type: 'object', additionalProperties: true },
            data: { type: 'array', items: { $ref: `${entity.name}#` } },
          },
        },
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const listRequest = parseListQuery(catalogue, entity, request.query);
      const { data, total, pageInfo } = await engine.list(request.params.spaceId, entity, listRequest);
      return listed(data, total, pageInfo);
    },
  });
};
