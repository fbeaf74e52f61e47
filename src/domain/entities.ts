// Every entity of the contract (SPEC §2), declared as data: fields, types, required, read-only,
// enums and relations, after reference §6.1. The generic engine serves them all from this file.
import { Catalogue, baseFields, type EntityDef, type FieldDef, type ToManyDef, type DerivedRelationDef } from './catalogue.js';

const string = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'string', ...extra });
const text = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'text', ...extra });
const integer = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'integer', ...extra });
const float = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'float', ...extra });
const boolean = (defaultValue = false, extra: Partial<FieldDef> = {}): FieldDef => ({
  type: 'boolean',
  default: defaultValue,
  ...extra,
});
const date = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'date', ...extra });
const dateTime = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'datetime', ...extra });
const relation = (targets: string | string[], extra: Partial<FieldDef> = {}): FieldDef => ({
  type: 'uuid',
  relation: Array.isArray(targets) ? targets : [targets],
  ...extra,
});
const oneOf = (values: (number | string)[], extra: Partial<FieldDef> = {}): FieldDef => ({
  type: typeof values[0] === 'number' ? 'integer' : 'string',
  enum: values,
  ...extra,
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

const LEAD_OPPTY = ['Lead', 'Opportunity'];
const ACTIVITIES = ['Task', 'Appointment', 'Email'];

const contactDetails = (): Record<string, FieldDef> => ({
  ...Object.fromEntries(range(1, 5).map((n) => [`email${n}`, string()])),
  ...Object.fromEntries(range(1, 5).map((n) => [`phone${n}`, string()])),
  address: string(),
  city: string(),
  state_province: string(),
  zip_code: string(),
  country: string(),
});

const shareMode = () => oneOf([0, 1, 2, 3], { default: 0, description: '0 Standard, 1 Private, 2 AllView, 3 AllEdit' });
const ownedBy = (required: boolean) => ({
  owner_id: relation('Client', { required }),
  unit_id: relation('SalesUnit'),
});

const documents = (foreignKey: string): Record<string, ToManyDef> => ({
  documents: { entity: 'CloudObjectRelation', foreignKey },
});

interface EntityOptions {
  toMany?: Record<string, ToManyDef>;
  derived?: Record<string, DerivedRelationDef>;
  requireOneOf?: string[][];
}

function entity(
  name: string,
  plural: string,
  description: string,
  fields: Record<string, FieldDef>,
  options: EntityOptions = {},
): EntityDef {
  return {
    name,
    plural,
    description,
    fields: { ...baseFields, ...fields },
    toMany: options.toMany ?? {},
    derived: options.derived ?? {},
    requireOneOf: options.requireOneOf ?? [],
  };
}

const typeEntity = (name: string, plural: string, extra: Record<string, FieldDef> = {}) =>
  entity(name, plural, `A ${name.replace(/Type$/, '').toLowerCase()} type (reference data).`, {
    name: string({ required: true }),
    sort_order: integer(),
    ...extra,
  });

const primaryOf = (via: string, targetField: string, target: string): DerivedRelationDef => ({
  via,
  targetField,
  target: [target],
});

const leadOpptyRelations = (): Record<string, ToManyDef> => ({
  account_relations: { entity: 'LeadOpptyAccountRelation', foreignKey: 'lead_oppty_id', writable: true },
  contact_relations: { entity: 'LeadOpptyContactRelation', foreignKey: 'lead_oppty_id', writable: true },
  ...documents('lead_oppty_id'),
});

const leadOpptyDerived = () => ({
  primary_account: primaryOf('account_relations', 'account_id', 'Account'),
  primary_contact: primaryOf('contact_relations', 'contact_id', 'Contact'),
});

const activityRelations = (): Record<string, ToManyDef> => ({
  activity_relations: { entity: 'ActivityRelation', foreignKey: 'activity_id', writable: true },
  comments: { entity: 'ActivityComment', foreignKey: 'activity_id' },
  ...documents('activity_id'),
});

const money = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'money', ...extra });

export const entities: EntityDef[] = [
  // Supporting entities: users, sales units, pipelines and reference data.
  entity('Client', 'Clients', 'A user of the CRM. `owner_id` everywhere points here.', {
    email: string({ required: true, description: 'Unique within the space' }),
    first_name: string(),
    last_name: string(),
    default_unit_id: relation('SalesUnit'),
    master_right_id: { type: 'uuid' },
    is_active: boolean(true),
  }),
  entity('SalesUnit', 'SalesUnits', 'A node of the sales-unit tree rooted at "Company".', {
    name: string({ required: true }),
    parent_id: relation('SalesUnit'),
  }),
  entity(
    'Pipeline',
    'Pipelines',
    'An ordered list of steps; reaching the last step wins an opportunity.',
    { name: string({ required: true }), is_default: boolean(false) },
    {
      toMany: {
        steps: { entity: 'Step', foreignKey: 'pipeline_id' },
        opportunity_types: { entity: 'OpportunityType', foreignKey: 'pipeline_id' },
      },
    },
  ),
  entity('Step', 'Steps', 'A sales step of a pipeline.', {
    pipeline_id: relation('Pipeline', { required: true }),
    name: string({ required: true }),
    percent: integer({ default: 0 }),
    sort_order: integer({ default: 0 }),
    timeframe: integer(),
  }),
  typeEntity('AccountType', 'AccountTypes'),
  typeEntity('ContactType', 'ContactTypes'),
  typeEntity('OpportunityType', 'OpportunityTypes', { pipeline_id: relation('Pipeline') }),
  typeEntity('LeadType', 'LeadTypes'),
  typeEntity('TaskType', 'TaskTypes'),
  typeEntity('AppointmentType', 'AppointmentTypes'),
  typeEntity('ProductType', 'ProductTypes'),
  typeEntity('ProductCategory', 'ProductCategories'),
  entity('CustomEntityType', 'CustomEntityTypes', 'A custom entity type; its api name scopes webhooks.', {
    name: string({ required: true }),
    entity_api_name: string({ required: true }),
  }),
  entity('Currency', 'Currencies', 'A currency.', {
    code: string({ required: true }),
    symbol: string(),
    is_base: boolean(false),
  }),
  entity('CurrencyExchangeRatesList', 'CurrencyExchangeRatesLists', 'A dated set of exchange rates.', {
    valid_from: date({ required: true }),
  }),
  entity('CurrencyExchangeRate', 'CurrencyExchangeRates', 'One exchange rate of a list.', {
    currency_id: relation('Currency', { required: true }),
    exchange_rate_list_id: relation('CurrencyExchangeRatesList', { required: true }),
    value: float({ required: true }),
  }),

  // The CRM records.
  entity(
    'Account',
    'Accounts',
    'A company or organisation.',
    {
      name: string({ required: true }),
      ...ownedBy(true),
      account_type_id: relation('AccountType'),
      ...contactDetails(),
      home_page: string(),
      industry_id: { type: 'uuid' },
      customer_type_id: { type: 'uuid' },
      parent_account_id: relation('Account'),
      account_class: oneOf(range(1, 5), { default: 1, description: '1 NoClass, 2 ClassA … 5 ClassD' }),
      is_archived: boolean(false),
      share_mode: shareMode(),
      comments: text(),
    },
    {
      toMany: {
        contact_relations: { entity: 'ContactAccountRelation', foreignKey: 'account_id' },
        ...documents('account_id'),
      },
    },
  ),
  entity(
    'Contact',
    'Contacts',
    'A person.',
    {
      ...ownedBy(true),
      first_name: string(),
      middle_name: string(),
      last_name: string(),
      title: string(),
      gender: oneOf([0, 1, 2, 3], { default: 0 }),
      contact_type_id: relation('ContactType'),
      ...contactDetails(),
      position: string(),
      share_mode: shareMode(),
      comments: text(),
    },
    {
      toMany: {
        account_relations: { entity: 'ContactAccountRelation', foreignKey: 'contact_id', writable: true },
        ...documents('contact_id'),
      },
      derived: { primary_account: primaryOf('account_relations', 'account_id', 'Account') },
      requireOneOf: [['first_name', 'last_name']],
    },
  ),
  entity('ContactAccountRelation', 'ContactAccountRelations', 'Links a contact to an account.', {
    account_id: relation('Account', { required: true }),
    contact_id: relation('Contact', { required: true }),
    is_primary: boolean(false),
    position: string(),
    relationship: oneOf([0, 1, 2, 3], { default: 0 }),
    is_assistant: boolean(false),
    is_sibling: boolean(false),
  }),
  entity(
    'Opportunity',
    'Opportunities',
    'A deal in a pipeline. Reaching the last step wins it; archiving it loses it.',
    {
      name: string({ required: true }),
      ...ownedBy(true),
      closing_date: date({ required: true }),
      step_id: relation('Step', { required: true }),
      value: money({ required: true }),
      oppty_type_id: relation('OpportunityType'),
      product_currency_id: relation('Currency'),
      is_archived: boolean(false),
      ranking: integer(),
      label_flag: integer({ default: 0, description: 'Bit flags: 1 Priority, 2 Hot, 4 Stalled' }),
      reason_of_close_id: { type: 'uuid' },
      reason_of_close_description: text(),
      description: text(),
      share_mode: shareMode(),
      status: oneOf([1, 2, 3], { readOnly: true, default: 1, description: '1 Open, 2 Lost, 3 Won' }),
      qualify_date: dateTime({ readOnly: true }),
      won_date: dateTime({ readOnly: true }),
      lost_date: dateTime({ readOnly: true }),
      was_qualified: boolean(false, { readOnly: true }),
      table_name: string({ readOnly: true, default: 'opportunity' }),
    },
    {
      toMany: {
        ...leadOpptyRelations(),
        product_relations: { entity: 'OpptyProductRelation', foreignKey: 'oppty_id' },
      },
      derived: leadOpptyDerived(),
    },
  ),
  entity(
    'Lead',
    'Leads',
    'A prospective deal, before qualification into an opportunity.',
    {
      name: string({ required: true }),
      ...ownedBy(false),
      lead_type_id: relation('LeadType'),
      step_id: relation('Step'),
      is_archived: boolean(false),
      description: text(),
      share_mode: shareMode(),
      quick_account_name: string(),
      quick_contact_name: string(),
      quick_email: string(),
      quick_phone: string(),
      status: oneOf([1, 2], { readOnly: true, default: 1, description: '1 Open, 2 Lost' }),
      lost_date: dateTime({ readOnly: true }),
      qualify_date: dateTime({ readOnly: true }),
      was_qualified: boolean(false, { readOnly: true }),
      table_name: string({ readOnly: true, default: 'lead' }),
    },
    { toMany: leadOpptyRelations(), derived: leadOpptyDerived() },
  ),
  entity('LeadOpptyAccountRelation', 'LeadOpptyAccountRelations', 'Links a lead or opportunity to an account.', {
    account_id: relation('Account', { required: true }),
    lead_oppty_id: relation(LEAD_OPPTY, { required: true }),
    is_primary: boolean(false),
  }),
  entity('LeadOpptyContactRelation', 'LeadOpptyContactRelations', 'Links a lead or opportunity to a contact.', {
    contact_id: relation('Contact', { required: true }),
    lead_oppty_id: relation(LEAD_OPPTY, { required: true }),
    is_primary: boolean(false),
    relationship: oneOf([0, 1, 2, 3], { default: 0 }),
  }),
  entity(
    'Task',
    'Tasks',
    'A to-do activity.',
    {
      subject: string({ required: true }),
      activity_type_id: relation('TaskType'),
      ...ownedBy(false),
      due_date: date(),
      start_date: date(),
      status: oneOf(range(1, 5), { default: 1, description: '1 NotStarted, 2 InProgress, 3 Waiting, 4 Completed, 5 Deferred' }),
      priority: oneOf([1, 2, 3], { default: 2, description: '1 Low, 2 Medium, 3 High' }),
      description: text(),
    },
    { toMany: activityRelations() },
  ),
  entity(
    'Appointment',
    'Appointments',
    'A meeting.',
    {
      subject: string({ required: true }),
      activity_type_id: relation('AppointmentType'),
      ...ownedBy(true),
      start_date: dateTime(),
      end_date: dateTime({ required: true }),
      location: string(),
      status: oneOf(range(1, 6), { default: 1, description: '6 Canceled' }),
      description: text(),
    },
    { toMany: activityRelations() },
  ),
  entity(
    'Email',
    'Emails',
    'A logged e-mail.',
    {
      subject: string({ required: true }),
      body: text(),
      sender: string(),
      recipients: { type: 'string[]', default: [] },
      sent_date: dateTime(),
      ...ownedBy(false),
    },
    {
      toMany: {
        activity_relations: { entity: 'ActivityRelation', foreignKey: 'activity_id', writable: true },
        ...documents('activity_id'),
      },
    },
  ),
  entity(
    'ActivityRelation',
    'ActivityRelations',
    'Links an activity to a record.',
    {
      activity_id: relation(ACTIVITIES, { required: true }),
      account_id: relation('Account'),
      contact_id: relation('Contact'),
      lead_oppty_id: relation(LEAD_OPPTY),
      custom_entity_id: relation('CustomEntity'),
      project_id: relation('Project'),
    },
    { requireOneOf: [['account_id', 'contact_id', 'lead_oppty_id', 'custom_entity_id', 'project_id']] },
  ),
  entity('ActivityComment', 'ActivityComments', 'A comment on a task or appointment.', {
    activity_id: relation(['Task', 'Appointment'], { required: true }),
    owner_id: relation('Client'),
    comment: text({ required: true }),
  }),
  entity(
    'Product',
    'Products',
    'A product or service that can be sold.',
    {
      name: string({ required: true }),
      sku: string(),
      unit_symbol: string(),
      description: text(),
      product_type_id: relation('ProductType'),
      product_category_id: relation('ProductCategory'),
    },
  ),
  entity('OpptyProductRelation', 'OpptyProductRelations', 'A product line item of an opportunity.', {
    oppty_id: relation('Opportunity', { required: true }),
    product_id: relation('Product', { required: true }),
    quantity: float({ default: 1 }),
    price: float({ default: 0 }),
    amount: float(),
    discount_value: float(),
    discount_percentage: float(),
    comment: text(),
    sort_order: integer({ default: 0 }),
  }),
  entity('ProductPriceList', 'ProductPriceLists', 'A price list.', {
    name: string({ required: true }),
    is_active: boolean(true),
  }),
  entity('ProductPriceListPrice', 'ProductPriceListPrices', 'The price of a product in a price list.', {
    product_id: relation('Product', { required: true }),
    price_list_id: relation('ProductPriceList', { required: true }),
    currency_id: relation('Currency'),
    price: float({ required: true }),
  }),
  entity(
    'CustomEntity',
    'CustomEntities',
    'A record of a custom entity type.',
    {
      name: string({ required: true }),
      ...ownedBy(true),
      type_id: relation('CustomEntityType', { required: true }),
      description: text(),
    },
    { toMany: documents('custom_entity_id') },
  ),
  entity('CloudObject', 'CloudObjects', 'A document.', {
    filename: string({ required: true }),
    mime_type: string(),
    size: integer(),
    type: string(),
    url: string(),
    is_public: boolean(false),
    owner_id: relation('Client'),
  }),
  entity(
    'CloudObjectRelation',
    'CloudObjectRelations',
    'Links a document to a record; creating one fires `<Record>.DocumentLinked`.',
    {
      cloud_object_id: relation('CloudObject', { required: true }),
      account_id: relation('Account'),
      contact_id: relation('Contact'),
      lead_oppty_id: relation(LEAD_OPPTY),
      activity_id: relation(ACTIVITIES),
      custom_entity_id: relation('CustomEntity'),
      memo_id: relation('Memo'),
      message_id: relation('Message'),
      project_id: relation('Project'),
      quote_id: relation('Quote'),
    },
    {
      requireOneOf: [
        ['account_id', 'contact_id', 'lead_oppty_id', 'activity_id', 'custom_entity_id', 'memo_id', 'message_id', 'project_id', 'quote_id'],
      ],
    },
  ),
  entity(
    'Memo',
    'Memos',
    'A memo about a record.',
    {
      title: string(),
      content: text({ required: true }),
      owner_id: relation('Client'),
      account_id: relation('Account'),
      contact_id: relation('Contact'),
      lead_oppty_id: relation(LEAD_OPPTY),
    },
    { toMany: { comments: { entity: 'MemoComment', foreignKey: 'memo_id' }, ...documents('memo_id') } },
  ),
  entity('MemoComment', 'MemoComments', 'A comment on a memo.', {
    memo_id: relation('Memo', { required: true }),
    owner_id: relation('Client'),
    comment: text({ required: true }),
  }),
  entity(
    'Message',
    'Messages',
    'A feed message about a record.',
    {
      content: text({ required: true }),
      owner_id: relation('Client'),
      account_id: relation('Account'),
      contact_id: relation('Contact'),
      lead_oppty_id: relation(LEAD_OPPTY),
    },
    { toMany: documents('message_id') },
  ),
  entity(
    'Note',
    'Notes',
    'A note attached to a record.',
    {
      note: text({ required: true }),
      owner_id: relation('Client'),
      account_id: relation('Account'),
      contact_id: relation('Contact'),
      lead_oppty_id: relation(LEAD_OPPTY),
      project_id: relation('Project'),
    },
    { requireOneOf: [['account_id', 'contact_id', 'lead_oppty_id', 'project_id']] },
  ),
  entity(
    'Project',
    'Projects',
    'A project.',
    {
      name: string({ required: true }),
      ...ownedBy(true),
      description: text(),
      start_date: date(),
      end_date: date(),
    },
    { toMany: documents('project_id') },
  ),
  entity(
    'Quote',
    'Quotes',
    'A quote. Like an opportunity, it moves through steps and is won or lost.',
    {
      name: string({ required: true }),
      ...ownedBy(true),
      opportunity_id: relation('Opportunity'),
      step_id: relation('Step'),
      quote_number: string(),
      expiration_date: date(),
      value: money(),
      is_archived: boolean(false),
      status: oneOf([1, 2, 3], { readOnly: true, default: 1, description: '1 Open, 2 Lost, 3 Won' }),
    },
    {
      toMany: {
        account_relations: { entity: 'QuoteAccountRelation', foreignKey: 'quote_id', writable: true },
        contact_relations: { entity: 'QuoteContactRelation', foreignKey: 'quote_id', writable: true },
        ...documents('quote_id'),
      },
    },
  ),
  entity('QuoteAccountRelation', 'QuoteAccountRelations', 'Links a quote to an account.', {
    quote_id: relation('Quote', { required: true }),
    account_id: relation('Account', { required: true }),
    is_primary: boolean(false),
  }),
  entity('QuoteContactRelation', 'QuoteContactRelations', 'Links a quote to a contact.', {
    quote_id: relation('Quote', { required: true }),
    contact_id: relation('Contact', { required: true }),
    is_primary: boolean(false),
  }),

  // Webhooks (reference §1.3) and their per-event subscriptions.
  entity('Webhook', 'Webhooks', 'A subscription: matching changes are POSTed to `url`.', {
    url: string({ required: true, description: 'Absolute http(s) URL the notifications are POSTed to' }),
    events: { type: 'string[]', required: true, description: 'Subscribed events; `X.*` and `*` are wildcards' },
    insecure_ssl: boolean(false, { description: 'If true, the receiver TLS certificate is not checked' }),
    signature: { type: 'uuid', description: 'Shared secret (a UUID); when set, deliveries are signed' },
    options: { type: 'json', default: {}, description: 'Payload shaping and filtering (reference §1.4)' },
    client_id: relation('Client', { description: 'Only records this client may see are sent; empty = all' }),
    application_id: { type: 'uuid', readOnly: true },
    is_disabled: boolean(false, {
      description: 'Tidings extension: deliveries are held (not dropped) while true; set false to resume and send what waited',
    }),
    disabled_reason: string({ readOnly: true, description: 'Tidings extension: why delivery stopped, e.g. a 410 from the receiver' }),
    signature_rotated: dateTime({ readOnly: true, description: 'Tidings extension: when `signature` last changed' }),
    health_state: oneOf(['healthy', 'failing', 'open'], {
      readOnly: true,
      default: 'healthy',
      description: 'Tidings extension: open = deliveries paused after a run of failures (the circuit breaker)',
    }),
    failing_since: dateTime({ readOnly: true, description: 'Tidings extension: start of the current run of failures' }),
    health_warning: string({ readOnly: true, description: 'Tidings extension: set when a long outage may soon disable the webhook' }),
    previous_signature: { type: 'uuid', hidden: true },
  }),
  entity('WebhookEvent', 'WebhookEvents', 'One subscribed event of a webhook; kept in step with `Webhook.events`.', {
    webhook_id: relation('Webhook', { required: true }),
    event: string({ required: true }),
  }),
];

export const catalogue = new Catalogue(entities);
