// What every entity route needs, and the path and OpenAPI pieces they share.
import type { FastifyInstance } from 'fastify';
import type { Catalogue, EntityDef } from '../../domain/catalogue.js';
import type { EntityEngine } from '../../engine/entity-engine.js';
import type { RawQuery } from '../query.js';

export interface RouteContext {
  readonly engine: EntityEngine;
  readonly catalogue: Catalogue;
}

export type EntityRoute = (app: FastifyInstance, context: RouteContext, entity: EntityDef) => void;

export interface EntityRequest {
  Params: { spaceId: string; id: string };
  Querystring: RawQuery;
  Body: unknown;
}

export const collectionPath = (entity: EntityDef) => `/entities/${entity.plural}`;
export const recordPath = (entity: EntityDef) => `/entities/${entity.plural}/:id`;

export const spaceParams = {
  type: 'object',
  properties: { spaceId: { type: 'string', description: 'The space id' } },
  required: ['spaceId'],
};

export const recordParams = {
  type: 'object',
  properties: { spaceId: { type: 'string' }, id: { type: 'string', format: 'uuid' } },
  required: ['spaceId', 'id'],
};

export const errorResponses = {
  400: { description: 'Invalid parameter or body', $ref: 'Error#' },
  401: { description: 'Missing or wrong credentials', $ref: 'Error#' },
};

export const envelopeOf = (data: Record<string, unknown>, description: string) => ({
  description,
  type: 'object',
  properties: { success: { type: 'boolean' }, data },
});
