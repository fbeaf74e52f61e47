// Creating a space: its credentials and the reference data a CRM needs to be usable at once (SPEC §1).
// Idempotent: the space row is inserted only if absent, and only the process whose insert won seeds
// it, in the same transaction, so processes starting together create exactly one set.
import type { Catalogue } from '../domain/catalogue.js';
import { nowDateTime } from '../domain/dates.js';
import { spaceIdPattern, ValidationLevel } from '../domain/validation.js';
import type { Database } from '../store/database.js';
import type { RecordStore } from '../store/record-store.js';
import type { SpaceStore } from '../store/space-store.js';
import { CredentialVerifier, generatePassword, generateToken, hashPassword } from './credentials.js';
import { RecordWriter } from './record-writer.js';
import { newWriteContext, type WriteContext } from './write-context.js';

export interface BootstrapDependencies {
  readonly database: Database;
  readonly records: RecordStore;
  readonly spaces: SpaceStore;
  readonly catalogue: Catalogue;
}

export interface BootstrapResult {
  readonly created: boolean;
  readonly token: string;
  /** Set only when this call generated the password: it is shown once and never stored in clear. */
  readonly generatedPassword?: string;
}

export const DEFAULT_PIPELINE_STEPS = [
  { name: 'Qualification', percent: 10 },
  { name: 'Needs Analysis', percent: 30 },
  { name: 'Proposal', percent: 60 },
  { name: 'Negotiation', percent: 80 },
  { name: 'Closed Won', percent: 100 },
];

export async function bootstrapSpace(
  deps: BootstrapDependencies,
  spaceId: string,
  credentials: { token?: string; password?: string } = {},
): Promise<BootstrapResult> {
  if (!spaceIdPattern.test(spaceId)) {
    throw new Error(`space id '${spaceId}' must be 1-64 letters, digits, '_' or '-'`);
  }
  const { database, spaces } = deps;
  const trx = await database.db.startTransaction().execute();
  try {
    const existing = await spaces.find(trx, spaceId);
    if (existing) {
      const result = await refreshCredentials(deps, trx, existing, credentials);
      await trx.commit().execute();
      return result;
    }
    const token = credentials.token ?? generateToken();
    const password = credentials.password ?? generatePassword();
    const created = await spaces.insertIfAbsent(trx, {
      id: spaceId,
      api_token: token,
      ...hashPassword(password),
      revision: 0,
      created: nowDateTime(),
    });
    if (created) await seedReferenceData(deps, newWriteContext(trx, spaceId, ValidationLevel.overrideReadOnly, await deps.records.revisionsFrom(trx, spaceId)));
    await trx.commit().execute();
    return { created, token, generatedPassword: created && !credentials.password ? password : undefined };
  } catch (error) {
    await trx.rollback().execute();
    throw error;
  }
}

// Credentials given in the configuration are authoritative: a changed token or password replaces
// the stored one at the next start.
async function refreshCredentials(
  deps: BootstrapDependencies,
  trx: WriteContext['trx'],
  space: NonNullable<Awaited<ReturnType<SpaceStore['find']>>>,
  credentials: { token?: string; password?: string },
): Promise<BootstrapResult> {
  const token = credentials.token ?? space.api_token;
  const unchanged =
    credentials.password === undefined
      ? token === space.api_token
      : new CredentialVerifier().verify(space, token, credentials.password);
  if (!unchanged) {
    const password =
      credentials.password === undefined
        ? { password_salt: space.password_salt, password_hash: space.password_hash }
        : hashPassword(credentials.password);
    await deps.spaces.updateCredentials(trx, space.id, { api_token: token, ...password });
  }
  return { created: false, token };
}

async function seedReferenceData(deps: BootstrapDependencies, ctx: WriteContext): Promise<void> {
  const writer = new RecordWriter(deps.records, deps.catalogue);
  const create = (entityName: string, fields: Record<string, unknown>) =>
    writer.create(ctx, deps.catalogue.get(entityName), fields, null);

  const company = await create('SalesUnit', { name: 'Company', is_delete_protected: true });
  await create('Client', {
    email: `admin@${ctx.spaceId.toLowerCase().replace(/_/g, '-')}.tidings.local`,
    first_name: 'Space',
    last_name: 'Administrator',
    default_unit_id: company.id,
    is_delete_protected: true,
  });
  await create('Currency', { code: 'USD', symbol: '$', is_base: true });
  const pipeline = await create('Pipeline', { name: 'Sales Pipeline', is_default: true });
  for (const [position, step] of DEFAULT_PIPELINE_STEPS.entries()) {
    await create('Step', { pipeline_id: pipeline.id, name: step.name, percent: step.percent, sort_order: position + 1 });
  }
  await create('AccountType', { name: 'Customer' });
  await create('ContactType', { name: 'Contact' });
  await create('OpportunityType', { name: 'New Business', pipeline_id: pipeline.id });
  await create('LeadType', { name: 'Inbound' });
  await create('TaskType', { name: 'To-do' });
  await create('AppointmentType', { name: 'Meeting' });
  await writer.assignRevisions(ctx);
}
