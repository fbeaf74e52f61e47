// The SSRF guard's rule, for every address form, and the guarded connector around a (fake) socket.
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { guardedConnector, ForbiddenTargetError } from '../../src/delivery/sender.js';
import { TargetPolicy, TargetPolicyError } from '../../src/domain/target-policy.js';

const closed = new TargetPolicy();

describe('which addresses deliveries may reach', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback (IPv4-mapped)'],
    ['::ffff:7f00:1', 'loopback (IPv4-mapped, hex)'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local metadata'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'unique-local metadata'],
    ['fc00::1', 'unique-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::ffff:10.0.0.1', 'private (IPv4-mapped)'],
  ])('refuses %s (%s)', (address) => {
    expect(closed.refusal(address)).toMatch(/not a public address/);
  });

  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows the public address %s', (address) => {
    expect(closed.refusal(address)).toBeNull();
  });

  it('judges URL hosts as the URL parser normalises them: decimal, hex and short forms', () => {
    for (const url of ['http://2130706433/', 'http://0x7f000001/', 'http://0x7f.1/', 'http://127.1/', 'http://017700000001/', 'http://[::ffff:127.0.0.1]/', 'http://localhost/', 'http://LOCALHOST./', 'http://app.localhost/']) {
      expect(closed.hostRefusal(new URL(url).hostname), url).toMatch(/not a public address/);
    }
    expect(closed.hostRefusal(new URL('http://example.com/').hostname)).toBeNull();
  });

  it('allows what TIDINGS_ALLOW_PRIVATE_TARGETS lists, in either IP version', () => {
    const loopback = new TargetPolicy(['127.0.0.0/8']);
    expect(loopback.refusal('127.0.0.1')).toBeNull();
    expect(loopback.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(loopback.refusal('::1')).not.toBeNull();
    expect(loopback.refusal('10.0.0.1')).not.toBeNull();
    expect(new TargetPolicy(['*']).refusal('10.0.0.1')).toBeNull();
    expect(new TargetPolicy(['::1']).refusal('::1')).toBeNull();
    expect(() => new TargetPolicy(['10.0.0.0/33'])).toThrow(TargetPolicyError);
    expect(() => new TargetPolicy(['intranet'])).toThrow(TargetPolicyError);
  });
});

describe('the guarded connector', () => {
  const fakeSocket = (remoteAddress: string) => ({ remoteAddress, destroyed: false, destroy() { this.destroyed = true; } });

  it('refuses a name that resolves to a private address before connecting', async () => {
    let connected = false;
    const resolve = ((_host: string, _options: unknown, callback: (error: null, addresses: LookupAddress[]) => void) =>
      callback(null, [{ address: '10.0.0.7', family: 4 }])) as never;
    const connector = guardedConnector(closed, (lookup) => (options, callback) => {
      lookup(options.hostname, { all: true }, (error: unknown) => {
        if (error) return callback(error as Error, null);
        connected = true;
      });
    }, resolve);
    const error = await new Promise<Error | null>((done) => connector({ hostname: 'internal.example', protocol: 'http:', port: '80' }, (...args: unknown[]) => done(args[0] as Error | null)));
    expect(error).toBeInstanceOf(ForbiddenTargetError);
    expect(error!.message).toContain('10.0.0.7');
    expect(connected).toBe(false);
  });

  it('drops a connection whose peer turns out private (DNS rebinding)', async () => {
    const socket = fakeSocket('127.0.0.1');
    const connector = guardedConnector(closed, () => (_options, callback) => callback(null, socket as never));
    const error = await new Promise<Error | null>((done) => connector({ hostname: 'rebinding.example', protocol: 'http:', port: '80' }, (...args: unknown[]) => done(args[0] as Error | null)));
    expect(error).toBeInstanceOf(ForbiddenTargetError);
    expect(socket.destroyed).toBe(true);
  });

  it('refuses an IP literal without connecting at all', async () => {
    let built = 0;
    const connector = guardedConnector(closed, () => () => { built += 1; });
    const error = await new Promise<Error | null>((done) => connector({ hostname: '[::ffff:169.254.169.254]', protocol: 'http:', port: '80' }, (...args: unknown[]) => done(args[0] as Error | null)));
    expect(error).toBeInstanceOf(ForbiddenTargetError);
    expect(built).toBe(0);
  });
});
