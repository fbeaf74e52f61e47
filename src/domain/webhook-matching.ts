// Which webhooks an event reaches (reference §3.3), in one place: subscription with wildcards, skip
// keys, custom entity types, the webhook client's visibility, `filter` / `filter-op` (the evaluator
// the REST API's SQL filters agree with), and `on-field-change` for update-type events only.
import type { Catalogue, EntityDef } from './catalogue.js';
import { updateTypeEvents, type EventOccurrence } from './event-derivation.js';
import { buildFilter, FilterError, matchesFilter, type FilterCondition } from './filter.js';
import type { StoredRecord } from './projection.js';
import type { WebhookOptions } from './webhook-options.js';

export interface WebhookDefinition extends StoredRecord {
  readonly url: string;
  readonly events: readonly string[];
  readonly options: WebhookOptions | null;
  readonly insecure_ssl: boolean;
  readonly signature: string | null;
  readonly client_id: string | null;
  readonly application_id: string | null;
  readonly is_deleted: boolean;
  readonly created: string;
  readonly modified: string;
  readonly previous_signature?: string | null;
  readonly health_state?: string;
  readonly signature_rotated?: string | null;
}

/** The facts about one event that matching needs beyond the occurrence itself. */
export interface MatchFacts {
  /** Skip keys sent with the write (`Webhook-Skip-Key`, comma-separated values allowed). */
  readonly skipKeys: readonly string[];
  /** The api name of a custom entity record's type, for CustomEntity events. */
  readonly customEntityApiName?: string;
}

const PRIVATE_SHARE_MODE = 1;

/** True when the subscriptions include `event` directly, through `X.*`, or through `*`. */
export function subscribes(events: readonly string[], event: string): boolean {
  const prefix = event.slice(0, event.indexOf('.'));
  return events.some((subscribed) => subscribed === event || subscribed === '*' || subscribed === `${prefix}.*`);
}

/** The event names whose subscription rows can match an event: itself and its wildcards. */
export const subscriptionNamesFor = (event: string) => [event, `${event.slice(0, event.indexOf('.'))}.*`, '*'];

/**
 * Whether a webhook's client may see a record (reference §7 q16): records it owns, records of its
 * sales unit, and records not shared privately. A webhook without a client sees everything.
 */
export function clientCanSee(client: StoredRecord | null, record: StoredRecord): boolean {
  if (!client) return true;
  if (record.owner_id === client.id) return true;
  if (record.unit_id && record.unit_id === client.default_unit_id) return true;
  return record.share_mode !== PRIVATE_SHARE_MODE;
}

/** A webhook prepared for matching many events: its filters are parsed once. */
export class WebhookMatcher {
  private readonly filters = new Map<string, FilterCondition[] | null>();

  constructor(
    private readonly catalogue: Catalogue,
    readonly webhook: WebhookDefinition,
    private readonly client: StoredRecord | null,
  ) {}

  /** The key of `options.entity` that applies: a custom entity type's api name wins over `CustomEntity`. */
  optionsKey(occurrence: EventOccurrence, facts: MatchFacts): string {
    const entityOptions = this.webhook.options?.entity ?? {};
    if (facts.customEntityApiName && entityOptions[facts.customEntityApiName]) return facts.customEntityApiName;
    return occurrence.entityName;
  }

  matches(occurrence: EventOccurrence, facts: MatchFacts): boolean {
    const { webhook } = this;
    const options = webhook.options ?? {};
    if (webhook.is_deleted) return false;
    if (options.skip_keys?.some((key) => facts.skipKeys.includes(key))) return false;
    if (!subscribes(webhook.events, occurrence.event)) return false;
    if (occurrence.entityName === 'CustomEntity' && options.custom_entity_api_name) {
      if (!facts.customEntityApiName || !options.custom_entity_api_name.includes(facts.customEntityApiName)) return false;
    }
    if (!clientCanSee(this.client, occurrence.record)) return false;
    const key = this.optionsKey(occurrence, facts);
    const conditions = this.filterFor(key, occurrence.entityName);
    if (conditions === null || !matchesFilter(occurrence.record, conditions)) return false;
    const watched = options.entity?.[key]?.['on-field-change'];
    const eventName = occurrence.event.slice(occurrence.event.indexOf('.') + 1);
    if (watched && watched.length > 0 && updateTypeEvents.has(eventName)) {
      return watched.some((field) => occurrence.changedFields.includes(field));
    }
    return true;
  }

  // null: the stored filter no longer parses (say, a field left the catalogue), which matches nothing.
  private filterFor(key: string, entityName: string): FilterCondition[] | null {
    if (!this.filters.has(key)) {
      const entityOptions = this.webhook.options?.entity?.[key];
      const entity: EntityDef = this.catalogue.get(entityName);
      try {
        this.filters.set(key, buildFilter(entity, entityOptions?.filter ?? {}, entityOptions?.['filter-op'] ?? {}));
      } catch (error) {
        if (!(error instanceof FilterError)) throw error;
        this.filters.set(key, null);
      }
    }
    return this.filters.get(key)!;
  }
}
