// The accepted event names (reference §2.2): per entity, its events; `X.*` and `*` are wildcards.

const crud = ['Create', 'Update', 'Delete'];

export const eventsByEntity: Readonly<Record<string, readonly string[]>> = {
  Account: [...crud, 'DocumentLinked', 'OwnerChanged'],
  Contact: [...crud, 'DocumentLinked', 'OwnerChanged'],
  Opportunity: [...crud, 'DocumentLinked', 'OwnerChanged', 'Move', 'Lost', 'Won', 'Qualify'],
  Lead: [...crud, 'DocumentLinked', 'OwnerChanged', 'Lost', 'BackToLead'],
  Task: [...crud, 'DocumentLinked', 'OwnerChanged', 'Comment'],
  Email: [...crud, 'DocumentLinked'],
  Appointment: [...crud, 'DocumentLinked', 'OwnerChanged', 'Comment'],
  Product: crud,
  OpptyProductRelation: crud,
  CustomEntity: [...crud, 'DocumentLinked', 'OwnerChanged'],
  ActivityRelation: crud,
  ContactAccountRelation: crud,
  Currency: crud,
  CurrencyExchangeRate: crud,
  CurrencyExchangeRatesList: crud,
  LeadOpptyAccountRelation: crud,
  LeadOpptyContactRelation: crud,
  Memo: [...crud, 'Comment', 'DocumentLinked'],
  Message: [...crud, 'DocumentLinked'],
  Note: crud,
  ProductPriceList: crud,
  ProductPriceListPrice: crud,
  Project: [...crud, 'DocumentLinked', 'OwnerChanged'],
  Quote: [...crud, 'DocumentLinked', 'Lost', 'Move', 'OwnerChanged', 'Won'],
  QuoteAccountRelation: crud,
  QuoteContactRelation: crud,
};

/** Every value `Webhook.events[]` and `WebhookEvent.event` accept, wildcards included. */
export const acceptedEventNames: ReadonlySet<string> = new Set([
  '*',
  ...Object.entries(eventsByEntity).flatMap(([entity, events]) => [`${entity}.*`, ...events.map((event) => `${entity}.${event}`)]),
]);

/** Entity names that may appear under `options.entity` (the event prefixes). */
export const eventEntityNames: ReadonlySet<string> = new Set(Object.keys(eventsByEntity));
