// Delivery signatures (SPEC §3). The key is always the UTF-8 bytes of the webhook's `signature`.
// - "pipeliner" (default): `WebHook-Signature: <lowercase hex HMAC-SHA256 of the raw body>`;
// - "standard-webhooks": `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//   which a receiver verifies with the `standardwebhooks` library and the secret
//   `whsec_` + base64(UTF-8 of the signature). During a rotation several `v1,` entries are sent.
import { createHmac } from 'node:crypto';

export type SignatureFormat = 'pipeliner' | 'standard-webhooks';

export const SIGNATURE_HEADER = {
  pipeliner: 'WebHook-Signature',
  'standard-webhooks': 'webhook-signature',
} as const;

const hmac = (secret: string) => createHmac('sha256', Buffer.from(secret, 'utf8'));

export const pipelinerSignature = (secret: string, body: string | Buffer) => hmac(secret).update(body).digest('hex');

export const standardWebhooksSignature = (secret: string, messageId: string, timestampSeconds: number, body: string | Buffer) =>
  `v1,${hmac(secret).update(`${messageId}.${timestampSeconds}.`).update(body).digest('base64')}`;

/** The receiver-side secret for the `standardwebhooks` library. */
export const standardWebhooksSecret = (secret: string) => `whsec_${Buffer.from(secret, 'utf8').toString('base64')}`;

/** The signature header of one attempt, or none when the webhook has no secret. */
export function signatureHeader(
  format: SignatureFormat,
  secrets: readonly string[],
  messageId: string,
  timestampSeconds: number,
  body: string | Buffer,
): Record<string, string> {
  if (secrets.length === 0) return {};
  const value =
    format === 'standard-webhooks'
      ? secrets.map((secret) => standardWebhooksSignature(secret, messageId, timestampSeconds, body)).join(' ')
      : pipelinerSignature(secrets[0], body);
  return { [SIGNATURE_HEADER[format]]: value };
}
