// A test delivery: one `Webhook.Ping` item about the webhook itself, signed and sent like any other.
import { formatDateTime } from '../../domain/dates.js';
import { newId } from '../../domain/ids.js';
import { deliverySequence, embeddedWebhook } from '../../domain/notification.js';
import { dueAtFor } from '../../store/delivery-queue.js';
import { single } from '../envelopes.js';
import { errorResponses } from './context.js';
import { loadWebhook, webhookParams, type DeliveryRequest, type DeliveryRoute } from './deliveries.shared.js';

export const PING_EVENT = 'Webhook.Ping';

export const pingWebhook: DeliveryRoute = (app, context) => {
  app.post<DeliveryRequest>('/entities/Webhooks/:id/ping', {
    schema: {
      tags: ['Deliveries'],
      summary: 'Send a test delivery (event Webhook.Ping) to the webhook (Tidings extension)',
      params: webhookParams,
      response: { 200: { description: '{delivery_id}', type: 'object', additionalProperties: true }, ...errorResponses },
    },
    handler: async (request) => {
      const { spaceId, id } = request.params;
      const webhook = await loadWebhook(context, spaceId, id);
      const now = context.clock();
      const summary = embeddedWebhook(webhook);
      const item = {
        id: newId(now), webhook: summary, event: PING_EVENT, event_time: formatDateTime(new Date(now)),
        team_space_id: spaceId, entity: summary, related_entity: null,
      };
      const deliveryId = newId(now);
      const sequence = deliverySequence(await context.records.takeRevisions(context.records.db, spaceId), 0);
      await context.queue.enqueue(context.records.db, [{
        id: deliveryId, space_id: spaceId, webhook_id: id, operation_id: deliveryId, chunk_index: 0,
        // A disabled webhook's ping waits, held like its other deliveries, until it is enabled.
        events: JSON.stringify([PING_EVENT]), item_count: 1, body: JSON.stringify([item]), due_at: dueAtFor(webhook, now), created_at: now,
        recordIds: [id], sequence,
      }]);
      context.wake();
      return single({ delivery_id: deliveryId });
    },
  });
};
