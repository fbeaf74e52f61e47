// buildApp(deps) → an unstarted Fastify instance: the Pipeliner-compatible REST API, its OpenAPI
// document (/openapi.json) and the interactive API page (/docs). Listening is the CLI's business.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Catalogue } from '../domain/catalogue.js';
import { ApiError, ErrorKinds } from '../domain/errors.js';
import type { EntityEngine } from '../engine/entity-engine.js';
import type { Executor } from '../store/database.js';
import type { SpaceStore } from '../store/space-store.js';
import { basicAuthHook } from './auth.js';
import { entityInputSchema, entityOutputSchema, errorSchema } from './openapi-schemas.js';
import type { RouteContext } from './routes/context.js';
import { batchEntities } from './routes/entities.batch.js';
import { createEntity } from './routes/entities.create.js';
import { deleteEntity } from './routes/entities.delete.js';
import { getEntity } from './routes/entities.get.js';
import { listEntities } from './routes/entities.list.js';
import { updateEntity } from './routes/entities.update.js';
import { conversionRoutes } from './routes/leads.conversion.js';
import { getDelivery } from './routes/deliveries.get.js';
import { listDeliveries } from './routes/deliveries.list.js';
import { resendDeliveries } from './routes/deliveries.resend.js';
import type { DeliveryRouteContext } from './routes/deliveries.shared.js';
import { pingWebhook } from './routes/webhooks.ping.js';

export const API_PREFIX = '/api/v100/rest/spaces/:spaceId';

export interface AppDependencies {
  readonly engine: EntityEngine;
  readonly catalogue: Catalogue;
  readonly spaces: SpaceStore;
  readonly db: Executor;
  readonly logger?: FastifyBaseLogger;
  readonly bodyLimitBytes?: number;
  readonly version: string;
  /** The attempt-log routes (list, inspect, redeliver, replay, ping). */
  readonly deliveries: DeliveryRouteContext;
}

const deliveryRoutes = [listDeliveries, getDelivery, resendDeliveries, pingWebhook];
const entityRoutes = [listEntities, getEntity, createEntity, updateEntity, deleteEntity, batchEntities];

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes ?? 4 * 1024 * 1024,
    // Bodies and query strings are validated by the entity engine, which reports Pipeliner's
    // field_errors; the route schemas only document the API.
    ajv: { customOptions: { strict: false } },
    // Errors met before routing (a malformed URL, say) get the same envelope as every other error.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  });
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError(ErrorKinds.routeNotFound, `No route ${request.method} ${request.url.split('?')[0]}; see /docs.`);
    return reply.code(404).send(error.toEnvelope());
  });

  app.addSchema(errorSchema);
  for (const entity of deps.catalogue.entities) {
    app.addSchema(entityOutputSchema(entity));
    app.addSchema(entityInputSchema(entity, false));
    app.addSchema(entityInputSchema(entity, true));
  }

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tidings CRM API',
        version: deps.version,
        description:
          "A CRM API compatible with Pipeliner's REST API v100, with real-time webhooks. " +
          "Authenticate with HTTP Basic: the space's API token as user name and its API password.",
      },
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } },
      security: [{ basicAuth: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => String(json.$id ?? `def-${index}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const context: RouteContext = { engine: deps.engine, catalogue: deps.catalogue };
  await app.register(
    async (api) => {
      api.addHook('onRequest', basicAuthHook(deps.spaces, deps.db));
      for (const entity of deps.catalogue.entities) {
        for (const route of entityRoutes) route(api, context, entity);
      }
      conversionRoutes(api, context);
      for (const route of deliveryRoutes) route(api, deps.deliveries);
      api.all('/entities/*', { schema: { hide: true } }, async (request) => {
        const name = (request.params as { '*': string })['*'].split('/')[0];
        throw new ApiError(ErrorKinds.unknownType, `Unknown entity type '${name}'; see /docs for the entity collections.`);
      });
    },
    { prefix: API_PREFIX },
  );
  return app;
}

function errorHandler(error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ApiError) return reply.code(error.status).send(error.toEnvelope());
  const status = (error as FastifyError).statusCode ?? 500;
  const code = (error as FastifyError).code;
  let apiError: ApiError;
  if (status === 413) {
    apiError = new ApiError(ErrorKinds.payloadTooLarge, 'The request body is larger than the server accepts.');
  } else if (status === 415) {
    apiError = new ApiError(ErrorKinds.unsupportedMediaType, "Send the request body as JSON with 'Content-Type: application/json'.");
  } else if (status === 400 && code?.startsWith('FST_ERR_CTP')) {
    apiError = new ApiError(ErrorKinds.parameterInvalid, `Missing or invalid JSON data: ${error.message}`);
  } else if (status >= 400 && status < 500) {
    apiError = new ApiError({ ...ErrorKinds.parameterInvalid, status }, error.message);
  } else {
    request.log.error({ err: error }, 'unhandled error');
    apiError = new ApiError(ErrorKinds.internal, 'An internal error occurred; it has been logged.');
  }
  return reply.code(apiError.status).send(apiError.toEnvelope());
}
