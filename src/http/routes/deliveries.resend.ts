// Sending again: one delivery (redeliver), or every delivery a query matches (replay, with a dry run
// that only counts). Each goes with its own webhook-id and the same bytes, so receivers can dedupe.
import { z } from 'zod';
import { single } from '../envelopes.js';
import { errorResponses } from './context.js';
import {
  deliveryNotFound,
  deliveryParams,
  deliveryQuerySchema,
  loadWebhook,
  parseOr400,
  toDeliveryQuery,
  webhookParams,
  type DeliveryRequest,
  type DeliveryRoute,
  type DeliveryRouteContext,
} from './deliveries.shared.js';

/** This process's worker, and (PostgreSQL) every worker process. */
async function wakeWorkers(context: DeliveryRouteContext) {
  await context.queue.announceEnqueued(context.records.db);
  context.wake();
}

const replaySchema = deliveryQuerySchema.extend({ dry_run: z.boolean().default(false) }).strict();

export const resendDeliveries: DeliveryRoute = (app, context) => {
  app.post<DeliveryRequest>('/entities/Webhooks/:id/deliveries/:deliveryId/redeliver', {
    schema: {
      tags: ['Deliveries'],
      summary: 'Send one delivery again, now (Tidings extension)',
      params: deliveryParams,
      response: { 200: { description: '{queued: 1}', type: 'object', additionalProperties: true }, ...errorResponses },
    },
    handler: async (request) => {
      const { spaceId, id, deliveryId } = request.params;
      const webhook = await loadWebhook(context, spaceId, id);
      if (!(await context.log.find(spaceId, id, deliveryId))) throw deliveryNotFound(deliveryId);
      const queued = await context.log.requeue(spaceId, webhook, { ids: [deliveryId] }, context.clock());
      if (queued > 0) await wakeWorkers(context);
      return single({ queued });
    },
  });

  app.post<DeliveryRequest>('/entities/Webhooks/:id/replay', {
    schema: {
      tags: ['Deliveries'],
      summary: 'Send again every delivery a query matches; dry_run only counts them (Tidings extension)',
      description: 'Body: {status, event, record_id, since, until, dry_run}, all optional. Deliveries being sent right now are left alone.',
      params: webhookParams,
      body: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
          event: { type: 'string' },
          record_id: { type: 'string' },
          since: { type: 'string' },
          until: { type: 'string' },
          dry_run: { type: 'boolean' },
        },
      },
      response: { 200: { description: '{matched, queued}', type: 'object', additionalProperties: true }, ...errorResponses },
    },
    handler: async (request) => {
      const { spaceId, id } = request.params;
      const webhook = await loadWebhook(context, spaceId, id);
      const body = parseOr400(replaySchema, request.body);
      const query = toDeliveryQuery(body);
      const matched = await context.log.count(spaceId, id, query);
      if (body.dry_run) return single({ matched, queued: 0, dry_run: true });
      const queued = await context.log.requeue(spaceId, webhook, query, context.clock());
      if (queued > 0) await wakeWorkers(context);
      return single({ matched, queued, dry_run: false });
    },
  });
};
