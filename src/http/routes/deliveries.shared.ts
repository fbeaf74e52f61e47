// What the delivery routes share: their dependencies, the webhook they are about (which must be a live
// record of the caller's space), query parsing with Zod, and the rendering of a delivery.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { epochMs, formatDateTime, parseDateTime } from '../../domain/dates.js';
import { ApiError, ErrorKinds, invalidParameter, notFound } from '../../domain/errors.js';
import { acceptedEventNames } from '../../domain/events.js';
import type { WebhookDefinition } from '../../domain/webhook-matching.js';
import type { DeliveriesTable, DeliveryAttemptsTable } from '../../store/database.js';
import type { DeliveryLog, DeliveryQuery } from '../../store/delivery-log.js';
import { HELD_UNTIL_ENABLED, type DeliveryQueue } from '../../store/delivery-queue.js';
import type { RecordStore } from '../../store/record-store.js';

export interface DeliveryRouteContext {
  readonly log: DeliveryLog;
  readonly queue: DeliveryQueue;
  readonly records: RecordStore;
  /** Wakes this process's worker after deliveries were (re)queued. */
  readonly wake: () => void;
  readonly clock: () => number;
}

export type DeliveryRoute = (app: FastifyInstance, context: DeliveryRouteContext) => void;

export interface DeliveryRequest {
  Params: { spaceId: string; id: string; deliveryId: string };
  Querystring: Record<string, unknown>;
  Body: unknown;
}

export const webhookParams = {
  type: 'object',
  properties: { spaceId: { type: 'string' }, id: { type: 'string', format: 'uuid', description: 'The webhook id' } },
  required: ['spaceId', 'id'],
};

export const deliveryParams = {
  type: 'object',
  properties: { spaceId: { type: 'string' }, id: { type: 'string', description: 'The webhook id' }, deliveryId: { type: 'string' } },
  required: ['spaceId', 'id', 'deliveryId'],
};

export async function loadWebhook(context: DeliveryRouteContext, spaceId: string, webhookId: string): Promise<WebhookDefinition> {
  const row = /^[0-9a-f-]{36}$/i.test(webhookId) ? await context.records.findById(context.records.db, spaceId, webhookId) : undefined;
  if (!row || row.entity !== 'Webhook' || row.data.is_deleted === true) throw notFound('Webhook', webhookId);
  return row.data as WebhookDefinition;
}

const dateTime = (name: string) =>
  z.string().transform((text, context) => {
    const parsed = parseDateTime(text);
    if (parsed === null) {
      context.addIssue({ code: 'custom', message: `${name} must be an ISO-8601 date-time` });
      return z.NEVER;
    }
    return epochMs(parsed);
  });

/** The delivery filters: by status, event, record and creation time. */
export const deliveryQuerySchema = z.object({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  event: z
    .string()
    .refine((name) => acceptedEventNames.has(name) && !name.endsWith('*'), 'event must be a concrete event name such as Account.Create')
    .optional(),
  record_id: z.uuid({ error: 'record_id must be a record id (a UUID)' }).optional(),
  since: dateTime('since').optional(),
  until: dateTime('until').optional(),
});

export const toDeliveryQuery = (parsed: z.infer<typeof deliveryQuerySchema>): DeliveryQuery => ({
  status: parsed.status,
  event: parsed.event,
  recordId: parsed.record_id,
  since: parsed.since,
  until: parsed.until,
});

/** Parses with Zod; a mistake is a 400 that names the parameter. */
export function parseOr400<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw invalidParameter(parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
}

const time = (ms: number | null) => (ms === null ? null : formatDateTime(new Date(ms)));

export function renderDelivery(delivery: DeliveriesTable): Record<string, unknown> {
  return {
    id: delivery.id,
    webhook_id: delivery.webhook_id,
    status: delivery.status,
    events: JSON.parse(delivery.events),
    item_count: delivery.item_count,
    chunk_index: delivery.chunk_index,
    attempts: delivery.attempts,
    created: time(delivery.created_at),
    // Held (its webhook is disabled): due only once the webhook is enabled.
    due: delivery.status === 'pending' && delivery.due_at !== HELD_UNTIL_ENABLED ? time(delivery.due_at) : null,
    last_attempt: time(delivery.last_attempt_at),
    last_status: delivery.last_status,
    last_error: delivery.last_error,
    finished: time(delivery.finished_at),
  };
}

export function renderAttempt(attempt: DeliveryAttemptsTable): Record<string, unknown> {
  return {
    attempt: attempt.attempt,
    started: time(attempt.started_at),
    duration_ms: attempt.duration_ms,
    request_headers: JSON.parse(attempt.request_headers),
    status: attempt.status,
    response_headers: attempt.response_headers === null ? null : JSON.parse(attempt.response_headers),
    response_body: attempt.response_body,
    error: attempt.error,
  };
}

export const deliveryNotFound = (deliveryId: string) =>
  new ApiError(ErrorKinds.entityNotFound, `Delivery '${deliveryId}' does not exist for this webhook.`);
