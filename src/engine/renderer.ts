// Renders stored records into their API form under a projection: loads what the projection needs,
// then renders. The REST API and (later) the webhook engine share it, so a payload's entity is
// exactly what GET returns under the same expand / load-only.
import type { Catalogue, EntityDef } from '../domain/catalogue.js';
import { projectionKey, renderRecord, type ProjectionNode, type StoredRecord, type UriFor } from '../domain/projection.js';
import type { Executor } from '../store/database.js';
import type { RecordStore } from '../store/record-store.js';
import { loadRelated } from '../store/related-loader.js';
import type { WriteContext } from './write-context.js';

export class Renderer {
  constructor(
    private readonly store: RecordStore,
    private readonly catalogue: Catalogue,
    private readonly publicUrl: string,
  ) {}

  uriFor(spaceId: string): UriFor {
    const base = `${this.publicUrl.replace(/\/+$/, '')}/api/v100/rest/spaces/${encodeURIComponent(spaceId)}/entities`;
    return (entityName, id) => `${base}/${this.catalogue.get(entityName).plural}/${id}`;
  }

  async render(
    executor: Executor,
    spaceId: string,
    entity: EntityDef,
    records: readonly StoredRecord[],
    node: ProjectionNode,
    write?: WriteContext,
  ): Promise<Record<string, unknown>[]> {
    const related = await loadRelated(this.store, executor, this.catalogue, spaceId, entity, records, node, write?.changes);
    const uriFor = this.uriFor(spaceId);
    return records.map((record) => renderRecord(this.catalogue, entity, record, node, related, uriFor));
  }

  /**
   * One record rendered inside the write of `ctx`, once per revision and projection however often it
   * is asked for: an API response and the payloads of webhooks with the default shape share one
   * render (its reads and its work were 8 % of an account's creation on SQLite). A record's revision
   * changes with each of its changes, so a later change is rendered anew.
   */
  renderInWrite(ctx: WriteContext, entity: EntityDef, record: StoredRecord, node: ProjectionNode): Promise<Record<string, unknown>> {
    const key = `${entity.name} ${record.id} ${String(record.revision)} ${projectionKey(node)}`;
    let rendered = ctx.renders.get(key);
    if (!rendered) {
      rendered = this.render(ctx.trx, ctx.spaceId, entity, [record], node, ctx).then(([output]) => output!);
      ctx.renders.set(key, rendered);
    }
    return rendered;
  }
}
