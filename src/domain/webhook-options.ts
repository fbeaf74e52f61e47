// Validation of a webhook's `url`, `events` and `options` (reference §1.3–§1.4). The options are REST
// parameters written as JSON; their filters are checked with the same parser the REST API uses.
import { z } from 'zod';
import type { Catalogue } from './catalogue.js';
import { ErrorKinds, fieldError, type FieldError } from './errors.js';
import { acceptedEventNames } from './events.js';
import { buildFilter, FilterError, filterOperators } from './filter.js';
import type { TargetPolicy } from './target-policy.js';

export const MAX_CHUNK_SIZE = 100;

const stringList = z.array(z.string());

const entityOptionsSchema = z.strictObject({
  expand: stringList.optional(),
  'load-only': stringList.optional(),
  filter: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))])).optional(),
  'filter-op': z.record(z.string(), z.enum(filterOperators)).optional(),
  'on-field-change': stringList.optional(),
});

export const webhookOptionsSchema = z.strictObject({
  entity: z.record(z.string(), entityOptionsSchema).optional(),
  related_entity: z.strictObject({ expand: stringList.optional(), 'load-only': stringList.optional() }).optional(),
  skip_keys: stringList.optional(),
  chunk_size: z.int().min(1).max(MAX_CHUNK_SIZE).optional(),
  chunk_delay: z.int().min(0).optional(),
  custom_entity_api_name: stringList.optional(),
  signature_format: z.enum(['pipeliner', 'standard-webhooks']).optional(),
  include_changes: z.boolean().optional(),
});

export type WebhookOptions = z.infer<typeof webhookOptionsSchema>;

const invalid = (field: string, message: string) => fieldError(field, ErrorKinds.fieldValidation, message);

/** Validates `options`. Entity keys must be event entities or known custom entity api names. */
export function validateWebhookOptions(
  catalogue: Catalogue,
  options: unknown,
  customEntityApiNames: ReadonlySet<string>,
): FieldError[] {
  const parsed = webhookOptionsSchema.safeParse(options);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) =>
      invalid('options', `options.${issue.path.join('.')}: ${issue.message}`),
    );
  }
  const errors: FieldError[] = [];
  for (const [entityName, entityOptions] of Object.entries(parsed.data.entity ?? {})) {
    const entity = catalogue.find(entityName) ?? (customEntityApiNames.has(entityName) ? catalogue.get('CustomEntity') : undefined);
    if (!entity) {
      errors.push(invalid('options', `options.entity.${entityName}: '${entityName}' is not an entity name.`));
      continue;
    }
    try {
      buildFilter(entity, entityOptions.filter ?? {}, entityOptions['filter-op'] ?? {});
    } catch (error) {
      if (!(error instanceof FilterError)) throw error;
      errors.push(invalid('options', `options.entity.${entityName}: ${error.message}`));
    }
  }
  return errors;
}

/** An absolute http(s) URL without credentials, whose host the SSRF guard does not refuse outright. */
export function validateWebhookUrl(url: unknown, policy: TargetPolicy): FieldError[] {
  if (typeof url !== 'string') return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [invalid('url', `Field 'url' must be an absolute http(s) URL; got '${url}'.`)];
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return [invalid('url', `Field 'url' must use http or https; got '${parsed.protocol.replace(':', '')}'.`)];
  }
  if (parsed.username || parsed.password) {
    return [invalid('url', "Field 'url' must not carry credentials; sign deliveries with 'signature' instead.")];
  }
  const refusal = policy.hostRefusal(parsed.hostname);
  return refusal ? [invalid('url', `Field 'url' points at ${refusal}.`)] : [];
}

export function validateWebhookEvents(field: string, events: unknown): FieldError[] {
  const list = Array.isArray(events) ? events : [events];
  const unknown = list.filter((event) => typeof event !== 'string' || !acceptedEventNames.has(event));
  if (unknown.length === 0) return [];
  return [
    invalid(field, `Unknown event${unknown.length > 1 ? 's' : ''} ${unknown.map((e) => `'${String(e)}'`).join(', ')}; ` +
      "use names such as 'Account.Create', 'Account.*' or '*'."),
  ];
}
