import { single } from '../envelopes.js';
import { errorResponses } from './context.js';
import { deliveryNotFound, deliveryParams, loadWebhook, renderAttempt, renderDelivery, type DeliveryRequest, type DeliveryRoute } from './deliveries.shared.js';

export const getDelivery: DeliveryRoute = (app, context) => {
  app.get<DeliveryRequest>('/entities/Webhooks/:id/deliveries/:deliveryId', {
    schema: {
      tags: ['Deliveries'],
      summary: 'One delivery: its body and every attempt (Tidings extension)',
      params: deliveryParams,
      response: { 200: { description: 'The delivery with its attempts', type: 'object', additionalProperties: true }, ...errorResponses },
    },
    handler: async (request) => {
      const { spaceId, id, deliveryId } = request.params;
      await loadWebhook(context, spaceId, id);
      const found = await context.log.find(spaceId, id, deliveryId);
      if (!found) throw deliveryNotFound(deliveryId);
      return single({ ...renderDelivery(found.delivery), body: JSON.parse(found.delivery.body), attempts: found.attempts.map(renderAttempt) });
    },
  });
};
