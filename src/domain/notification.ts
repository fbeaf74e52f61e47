// The delivered body (SPEC §3, reference §3.2): a JSON array of items `{id, webhook, event, event_time,
// team_space_id, entity, related_entity}` (+ `changes` with `include_changes`), cut into chunks of
// `chunk_size`; chunk N is due N × `chunk_delay` seconds after the write.
import type { WebhookDefinition } from './webhook-matching.js';

export const DEFAULT_CHUNK_SIZE = 100;

export interface NotificationItem {
  readonly id: string;
  readonly webhook: Record<string, unknown>;
  readonly event: string;
  readonly event_time: string;
  readonly team_space_id: string;
  readonly entity: Record<string, unknown>;
  readonly related_entity: Record<string, unknown> | null;
  readonly changes?: Record<string, { from: unknown; to: unknown }>;
}

/** The webhook as embedded in each item: the ten fields receivers rely on, never the secret. */
export function embeddedWebhook(webhook: WebhookDefinition): Record<string, unknown> {
  return {
    id: webhook.id,
    url: webhook.url,
    events: webhook.events,
    options: webhook.options ?? {},
    insecure_ssl: webhook.insecure_ssl,
    is_deleted: webhook.is_deleted,
    created: webhook.created,
    modified: webhook.modified,
    application_id: webhook.application_id ?? null,
    client_id: webhook.client_id ?? null,
  };
}

/** `{field: {from, to}}` for the fields a change altered (the `include_changes` option). */
export function describeChanges(
  before: Readonly<Record<string, unknown>> | null,
  after: Readonly<Record<string, unknown>>,
  fields: readonly string[],
): Record<string, { from: unknown; to: unknown }> {
  return Object.fromEntries(fields.map((field) => [field, { from: before?.[field] ?? null, to: after[field] ?? null }]));
}

export interface Chunk<T> {
  readonly index: number;
  readonly items: readonly T[];
  /** Milliseconds after the write at which the chunk is due. */
  readonly delayMs: number;
}

export function chunkItems<T>(items: readonly T[], chunkSize = DEFAULT_CHUNK_SIZE, chunkDelaySeconds = 0): Chunk<T>[] {
  const size = Math.max(1, Math.min(DEFAULT_CHUNK_SIZE, Math.floor(chunkSize)));
  const chunks: Chunk<T>[] = [];
  for (let start = 0; start < items.length; start += size) {
    const index = chunks.length;
    chunks.push({ index, items: items.slice(start, start + size), delayMs: index * chunkDelaySeconds * 1000 });
  }
  return chunks;
}

/** More chunks than one operation can make (1,000 items at most, chunks of at least one). */
export const CHUNKS_PER_OPERATION = 10_000;

/**
 * Orders deliveries in commit order: the write's last revision (writes in a space take revisions in
 * turn until they commit, so it grows with each commit), then the chunk's index. The statement that
 * takes a PostgreSQL write's revisions adds the first term to `deliverySequence(0, chunk)` itself
 * (see enqueuedAndAnnounced).
 */
export const deliverySequence = (revision: number, chunkIndex: number) => revision * CHUNKS_PER_OPERATION + chunkIndex;
