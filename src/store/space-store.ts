// Spaces: the tenant rows, with their API credentials (the password only as a salted hash).
import type { Executor, SpacesTable } from './database.js';

export class SpaceStore {
  async find(executor: Executor, spaceId: string): Promise<SpacesTable | undefined> {
    return executor.selectFrom('spaces').selectAll().where('id', '=', spaceId).executeTakeFirst();
  }

  /** Inserts the space unless it exists; true when this call created it. */
  async insertIfAbsent(executor: Executor, space: SpacesTable): Promise<boolean> {
    const inserted = await executor
      .insertInto('spaces')
      .values(space)
      .onConflict((conflict) => conflict.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async updateCredentials(
    executor: Executor,
    spaceId: string,
    credentials: Pick<SpacesTable, 'api_token' | 'password_salt' | 'password_hash'>,
  ): Promise<void> {
    await executor.updateTable('spaces').set(credentials).where('id', '=', spaceId).execute();
  }
}
