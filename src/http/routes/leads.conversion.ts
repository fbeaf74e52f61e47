// Lead → Opportunity ("qualify") and Opportunity → Lead ("back to lead"), keeping the record's id.
import type { FastifyInstance } from 'fastify';
import { single } from '../envelopes.js';
import { writeQuerySchema } from '../openapi-schemas.js';
import { parseProjectionQuery, parseWriteQuery } from '../query.js';
import { envelopeOf, errorResponses, recordParams, type EntityRequest, type RouteContext } from './context.js';

export function conversionRoutes(app: FastifyInstance, { engine, catalogue }: RouteContext) {
  const opportunity = catalogue.get('Opportunity');
  const lead = catalogue.get('Lead');
  app.post<EntityRequest>('/entities/Leads/:id/qualify', {
    schema: {
      tags: ['Lead'],
      summary: 'Qualify a lead into an opportunity (same id; fires Opportunity.Qualify)',
      description:
        'The body may set any Opportunity field. Missing step_id, closing_date and value default to the default ' +
        "pipeline's first step, thirty days from now, and zero.",
      params: recordParams,
      querystring: writeQuerySchema,
      body: { $ref: 'OpportunityUpdateInput#' },
      response: { 200: envelopeOf({ $ref: 'Opportunity#' }, 'The opportunity'), ...errorResponses },
    },
    handler: async (request) => {
      const writeRequest = parseWriteQuery(request.query, request.headers);
      const projection = parseProjectionQuery(catalogue, opportunity, request.query);
      return single(await engine.qualify(request.params.spaceId, request.params.id, request.body, writeRequest, projection));
    },
  });
  app.post<EntityRequest>('/entities/Opportunities/:id/back-to-lead', {
    schema: {
      tags: ['Opportunity'],
      summary: 'Turn an opportunity back into a lead (same id; fires Lead.BackToLead)',
      params: recordParams,
      querystring: writeQuerySchema,
      body: { $ref: 'LeadUpdateInput#' },
      response: { 200: envelopeOf({ $ref: 'Lead#' }, 'The lead'), ...errorResponses },
    },
    handler: async (request) => {
      const writeRequest = parseWriteQuery(request.query, request.headers);
      const projection = parseProjectionQuery(catalogue, lead, request.query);
      return single(await engine.backToLead(request.params.spaceId, request.params.id, request.body, writeRequest, projection));
    },
  });
}
