import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration from the environment', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      databaseUrl: 'sqlite:./data/tidings.db',
      publicUrl: 'http://127.0.0.1:8080',
      space: 'demo_space',
      allowPrivateTargets: [],
      retryScheduleSeconds: [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
      deliveryTimeoutMs: 15000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable, treating empty ones as unset', () => {
    const config = loadConfig({
      TIDINGS_HOST: '0.0.0.0',
      TIDINGS_PORT: '9090',
      TIDINGS_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      TIDINGS_PUBLIC_URL: 'https://crm.example.com/',
      TIDINGS_SPACE: 'acme',
      TIDINGS_API_TOKEN: 'token-123',
      TIDINGS_API_PASSWORD: 'password-123',
      TIDINGS_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8, 10.0.0.0/8',
      TIDINGS_RETRY_SCHEDULE: '1, 2,3',
      TIDINGS_DELIVERY_TIMEOUT_MS: '2000',
      TIDINGS_LOG_LEVEL: '',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9090,
      publicUrl: 'https://crm.example.com',
      space: 'acme',
      apiToken: 'token-123',
      allowPrivateTargets: ['127.0.0.0/8', '10.0.0.0/8'],
      retryScheduleSeconds: [1, 2, 3],
      deliveryTimeoutMs: 2000,
      logLevel: 'info',
    });
  });

  it.each([
    ['TIDINGS_PORT', 'eighty'],
    ['TIDINGS_PORT', '70000'],
    ['TIDINGS_DATABASE_URL', 'mysql://localhost/x'],
    ['TIDINGS_SPACE', 'has space'],
    ['TIDINGS_PUBLIC_URL', 'ftp://x'],
    ['TIDINGS_RETRY_SCHEDULE', '5,soon'],
    ['TIDINGS_DELIVERY_TIMEOUT_MS', '-1'],
    ['TIDINGS_API_PASSWORD', 'short'],
  ])('stops on a bad %s with a message naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
