import { z } from 'zod';
import { listed } from '../envelopes.js';
import { errorResponses } from './context.js';
import { deliveryQuerySchema, loadWebhook, parseOr400, renderDelivery, toDeliveryQuery, webhookParams, type DeliveryRequest, type DeliveryRoute } from './deliveries.shared.js';

const listSchema = deliveryQuerySchema.extend({
  first: z.coerce.number().int().min(1).max(100).default(30),
  after: z.string().optional(),
});

export const listDeliveries: DeliveryRoute = (app, context) => {
  app.get<DeliveryRequest>('/entities/Webhooks/:id/deliveries', {
    schema: {
      tags: ['Deliveries'],
      summary: "List a webhook's deliveries, newest first (Tidings extension)",
      description: 'Filter by status (pending, delivered, failed), event, record_id and creation time (since, until); page with first / after.',
      params: webhookParams,
      querystring: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
          event: { type: 'string' },
          record_id: { type: 'string', format: 'uuid' },
          since: { type: 'string', description: 'ISO-8601 date-time' },
          until: { type: 'string', description: 'ISO-8601 date-time' },
          first: { type: 'integer', minimum: 1, maximum: 100 },
          after: { type: 'string', description: 'end_cursor of the previous page' },
        },
      },
      response: { 200: { description: 'A page of deliveries', type: 'object', additionalProperties: true }, ...errorResponses },
    },
    handler: async (request) => {
      const { spaceId, id } = request.params;
      await loadWebhook(context, spaceId, id);
      const query = parseOr400(listSchema, request.query);
      const page = await context.log.list(spaceId, id, toDeliveryQuery(query), query.first, query.after);
      const data = page.rows.map(renderDelivery);
      return listed(data, page.total, {
        start_cursor: page.rows[0]?.id ?? null,
        end_cursor: page.rows.at(-1)?.id ?? null,
        has_previous_page: query.after !== undefined,
        has_next_page: page.hasNext,
      });
    },
  });
};
