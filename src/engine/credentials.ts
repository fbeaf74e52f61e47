// API credentials of a space: a random token (the Basic-auth user) and password. The password is kept
// only as a salted scrypt hash; verified pairs are remembered in memory (by a SHA-256 of the pair)
// so that a request costs one hash, not one scrypt.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { SpacesTable } from '../store/database.js';

const KEY_LENGTH = 32;
const REMEMBERED_PAIRS = 1_000;

export const generateToken = () => randomBytes(12).toString('hex');
export const generatePassword = () => randomBytes(24).toString('base64url');

export function hashPassword(password: string): Pick<SpacesTable, 'password_salt' | 'password_hash'> {
  const salt = randomBytes(16).toString('hex');
  return { password_salt: salt, password_hash: scryptSync(password, salt, KEY_LENGTH).toString('hex') };
}

export class CredentialVerifier {
  private readonly verified = new Map<string, string>();

  /** True when token and password are this space's; constant-time in the secret comparisons. */
  verify(space: Pick<SpacesTable, 'id' | 'api_token' | 'password_salt' | 'password_hash'>, token: string, password: string): boolean {
    const pairKey = createHash('sha256').update(`${space.id}\u0000${token}\u0000${password}`).digest('hex');
    if (this.verified.get(pairKey) === space.password_hash && token === space.api_token) return true;
    const expectedToken = Buffer.from(space.api_token);
    const givenToken = Buffer.from(token);
    const tokenMatches = expectedToken.length === givenToken.length && timingSafeEqual(expectedToken, givenToken);
    const hash = scryptSync(password, space.password_salt, KEY_LENGTH);
    const passwordMatches = timingSafeEqual(hash, Buffer.from(space.password_hash, 'hex'));
    if (!tokenMatches || !passwordMatches) return false;
    if (this.verified.size >= REMEMBERED_PAIRS) this.verified.clear();
    this.verified.set(pairKey, space.password_hash);
    return true;
  }
}
