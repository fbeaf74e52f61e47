// One pino logger for the process. Credentials and webhook secrets are redacted wherever they appear.
import pino from 'pino';

export function createLogger(level: string) {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.signature', 'signature', '*.password', 'password'],
      censor: '[redacted]',
    },
  });
}
