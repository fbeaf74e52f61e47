// HTTP Basic auth with the space's API token and password (reference §1.1). A wrong password, an
// unknown space and a missing header all get the same 401, so nothing tells which part was wrong.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ErrorKinds } from '../domain/errors.js';
import { CredentialVerifier } from '../engine/credentials.js';
import { spaceIdPattern } from '../domain/validation.js';
import type { Executor } from '../store/database.js';
import type { SpaceStore } from '../store/space-store.js';

export const AUTH_CHALLENGE = 'Basic realm="restapi"';

export function basicAuthHook(spaces: SpaceStore, db: Executor) {
  const verifier = new CredentialVerifier();
  return async (request: FastifyRequest<{ Params: { spaceId: string } }>, reply: FastifyReply) => {
    const credentials = parseBasic(request.headers.authorization);
    const knownShape = spaceIdPattern.test(request.params.spaceId);
    const space = credentials && knownShape ? await spaces.find(db, request.params.spaceId) : undefined;
    if (!credentials || !space || !verifier.verify(space, credentials.token, credentials.password)) {
      reply.header('WWW-Authenticate', AUTH_CHALLENGE);
      throw new ApiError(
        ErrorKinds.unauthorized,
        "Authentication required: send HTTP Basic credentials, the space's API token as user name and its API password.",
      );
    }
  };
}

function parseBasic(header: string | undefined): { token: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator <= 0) return undefined;
  return { token: decoded.slice(0, separator), password: decoded.slice(separator + 1) };
}
