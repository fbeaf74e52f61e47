// Derived, stored fields of the lead → opportunity lifecycle (reference §2.4, §6.1): an opportunity (or a
// quote) in its pipeline's last step is won, an archived one is lost; an archived lead is lost.
// They are stored, not computed on read, so that filters and webhooks see them.

export const OpportunityStatus = { open: 1, lost: 2, won: 3 } as const;
export const LeadStatus = { open: 1, lost: 2 } as const;

const withStatus = new Set(['Opportunity', 'Lead', 'Quote']);

export interface LifecycleContext {
  /** Whether the record's step is the last one of its pipeline; null when it has no step. */
  readonly inLastStep: boolean | null;
  readonly now: string;
}

export const hasLifecycle = (entityName: string) => withStatus.has(entityName);

/** The status (and won / lost dates) implied by the record after a write. */
export function lifecycleChanges(
  entityName: string,
  fields: Readonly<Record<string, unknown>>,
  before: Readonly<Record<string, unknown>> | null,
  after: Readonly<Record<string, unknown>>,
  context: LifecycleContext,
): Record<string, unknown> {
  if (!withStatus.has(entityName)) return {};
  const status =
    after.is_archived === true
      ? OpportunityStatus.lost
      : entityName !== 'Lead' && context.inLastStep
        ? OpportunityStatus.won
        : OpportunityStatus.open;
  const changes: Record<string, unknown> = { status };
  if (status !== before?.status) {
    if (status === OpportunityStatus.won && 'won_date' in fields) changes.won_date = context.now;
    if (status === OpportunityStatus.lost && 'lost_date' in fields) changes.lost_date = context.now;
  }
  return changes;
}
