// The configuration: one Zod schema over the environment, parsed once into a frozen Config. Nothing
// else reads process.env. A bad value stops start-up with a message naming the variable.
import { z } from 'zod';
import type { BreakerSettings } from '../domain/circuit-breaker.js';
import { TargetPolicy } from '../domain/target-policy.js';
import { spaceIdPattern } from '../domain/validation.js';

const DEFAULT_RETRY_SCHEDULE = '5,300,1800,7200,18000,36000,50400,72000,86400';

const integerText = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((value) => value >= min && value <= max, `${name} must be between ${min} and ${max}`);

const environmentSchema = z.object({
  TIDINGS_HOST: z.string().min(1).default('127.0.0.1'),
  TIDINGS_PORT: integerText('TIDINGS_PORT', 0, 65535).default(8080),
  TIDINGS_DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'TIDINGS_DATABASE_URL must be sqlite:<path> or postgres://…')
    .default('sqlite:./data/tidings.db'),
  TIDINGS_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'TIDINGS_PUBLIC_URL must be an http(s) URL' }).optional(),
  TIDINGS_SPACE: z
    .string()
    .regex(spaceIdPattern, 'TIDINGS_SPACE must be 1-64 letters, digits, _ or -')
    .default('demo_space'),
  TIDINGS_API_TOKEN: z.string().min(8, 'TIDINGS_API_TOKEN must be at least 8 characters').regex(/^[^:\s]+$/, 'TIDINGS_API_TOKEN must not contain ":" or spaces').optional(),
  TIDINGS_API_PASSWORD: z.string().min(8, 'TIDINGS_API_PASSWORD must be at least 8 characters').optional(),
  TIDINGS_ALLOW_PRIVATE_TARGETS: z
    .string()
    .optional()
    .transform((text) => (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== ''))
    .superRefine((entries, context) => {
      try {
        new TargetPolicy(entries);
      } catch (error) {
        context.addIssue({ code: 'custom', message: `TIDINGS_ALLOW_PRIVATE_TARGETS: ${(error as Error).message}` });
      }
    }),
  TIDINGS_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'TIDINGS_RETRY_SCHEDULE must be a comma list of seconds, e.g. 5,300,1800')
    .default(DEFAULT_RETRY_SCHEDULE)
    .transform((text) => text.split(',').map((part) => Number(part.trim()))),
  TIDINGS_DELIVERY_TIMEOUT_MS: integerText('TIDINGS_DELIVERY_TIMEOUT_MS', 100, 600_000).default(15_000),
  TIDINGS_BREAKER_THRESHOLD: integerText('TIDINGS_BREAKER_THRESHOLD', 1, 1000).default(5),
  TIDINGS_BREAKER_COOLDOWN_MS: integerText('TIDINGS_BREAKER_COOLDOWN_MS', 100, 3_600_000).default(30_000),
  TIDINGS_UNHEALTHY_WARN_AFTER_SECONDS: integerText('TIDINGS_UNHEALTHY_WARN_AFTER_SECONDS', 1, 31_536_000).default(86_400),
  TIDINGS_UNHEALTHY_DISABLE_AFTER_SECONDS: integerText('TIDINGS_UNHEALTHY_DISABLE_AFTER_SECONDS', 1, 31_536_000).default(259_200),
  TIDINGS_SIGNATURE_GRACE_HOURS: integerText('TIDINGS_SIGNATURE_GRACE_HOURS', 0, 720).default(24),
  TIDINGS_RETENTION_DAYS: integerText('TIDINGS_RETENTION_DAYS', 1, 3650).default(30),
  TIDINGS_BODY_LIMIT_BYTES: integerText('TIDINGS_BODY_LIMIT_BYTES', 1024, 100 * 1024 * 1024).default(4 * 1024 * 1024),
  TIDINGS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly publicUrl: string;
  readonly space: string;
  readonly apiToken?: string;
  readonly apiPassword?: string;
  readonly allowPrivateTargets: readonly string[];
  readonly retryScheduleSeconds: readonly number[];
  readonly deliveryTimeoutMs: number;
  readonly bodyLimitBytes: number;
  /** The circuit breaker and the auto-disabling of webhooks that fail for long. */
  readonly breaker: BreakerSettings;
  /** After a secret rotation, the previous secret signs beside the new one for this long. */
  readonly signatureGraceHours: number;
  /** Delivered history older than this many days is purged. */
  readonly retentionDays: number;
  readonly logLevel: string;
}

export class ConfigError extends Error {}

export function loadConfig(environment: Readonly<Record<string, string | undefined>>): Config {
  // Empty variables count as unset, as in most tools.
  const present = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  const displayHost = env.TIDINGS_HOST.includes(':') ? `[${env.TIDINGS_HOST}]` : env.TIDINGS_HOST;
  return Object.freeze({
    host: env.TIDINGS_HOST,
    port: env.TIDINGS_PORT,
    databaseUrl: env.TIDINGS_DATABASE_URL,
    publicUrl: (env.TIDINGS_PUBLIC_URL ?? `http://${displayHost}:${env.TIDINGS_PORT}`).replace(/\/+$/, ''),
    space: env.TIDINGS_SPACE,
    apiToken: env.TIDINGS_API_TOKEN,
    apiPassword: env.TIDINGS_API_PASSWORD,
    allowPrivateTargets: Object.freeze(env.TIDINGS_ALLOW_PRIVATE_TARGETS),
    retryScheduleSeconds: Object.freeze(env.TIDINGS_RETRY_SCHEDULE),
    deliveryTimeoutMs: env.TIDINGS_DELIVERY_TIMEOUT_MS,
    bodyLimitBytes: env.TIDINGS_BODY_LIMIT_BYTES,
    retentionDays: env.TIDINGS_RETENTION_DAYS,
    signatureGraceHours: env.TIDINGS_SIGNATURE_GRACE_HOURS,
    breaker: Object.freeze({
      threshold: env.TIDINGS_BREAKER_THRESHOLD,
      cooldownMs: env.TIDINGS_BREAKER_COOLDOWN_MS,
      maxCooldownMs: Math.max(env.TIDINGS_BREAKER_COOLDOWN_MS, 600_000),
      warnAfterMs: env.TIDINGS_UNHEALTHY_WARN_AFTER_SECONDS * 1000,
      disableAfterMs: env.TIDINGS_UNHEALTHY_DISABLE_AFTER_SECONDS * 1000,
    }),
    logLevel: env.TIDINGS_LOG_LEVEL,
  });
}
