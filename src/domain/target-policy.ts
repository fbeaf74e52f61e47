// The SSRF guard's rule (SPEC §3): deliveries may reach only public unicast addresses, unless the
// operator allows more with TIDINGS_ALLOW_PRIVATE_TARGETS (CIDRs, or `*`). Every address form is
// classified after normalisation: IPv4, IPv6, IPv4-mapped IPv6, and whatever the URL parser made of
// decimal or hex literals. Loopback, private, link-local (cloud metadata), unique-local,
// unspecified, multicast, reserved and translation ranges are all refused.
import ipaddr from 'ipaddr.js';

export class TargetPolicyError extends Error {}

export class TargetPolicy {
  private readonly allowAll: boolean;
  private readonly allowed: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  /** `allowed`: CIDRs such as `127.0.0.0/8` or `::1/128`, or `*`. Throws on a malformed entry. */
  constructor(allowed: readonly string[] = []) {
    this.allowAll = allowed.includes('*');
    this.allowed = allowed
      .filter((entry) => entry !== '*')
      .map((entry) => {
        try {
          const [address, bits] = entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), undefined];
          const normalised = ipaddr.process(address.toString());
          const prefix = bits ?? (normalised.kind() === 'ipv4' ? 32 : 128);
          return [normalised, address.kind() === 'ipv6' && normalised.kind() === 'ipv4' ? Math.max(0, prefix - 96) : prefix];
        } catch {
          throw new TargetPolicyError(`'${entry}' is not a CIDR such as 127.0.0.0/8 or ::1/128`);
        }
      });
  }

  /** Why a delivery may not connect to `address` (an IP literal), or null when it may. */
  refusal(address: string): string | null {
    const literal = address.replace(/^\[|\]$/g, '');
    if (!ipaddr.isValid(literal)) return `'${address}' is not an IP address`;
    const parsed = ipaddr.process(literal);
    const range = parsed.range();
    if (range === 'unicast' || this.allowAll) return null;
    if (this.allowed.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits))) return null;
    return `${parsed.toString()} is not a public address (${describeRange(range)}); deliveries may reach it only if TIDINGS_ALLOW_PRIVATE_TARGETS allows it`;
  }

  /**
   * Why a webhook URL's host is refused at once, or null. IP literals and `localhost` names are
   * judged here; other names are judged at connect time, against the addresses they resolve to.
   */
  hostRefusal(hostname: string): string | null {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
    if (host === 'localhost' || host.endsWith('.localhost')) return this.refusal('127.0.0.1');
    return ipaddr.isValid(host) ? this.refusal(host) : null;
  }
}

function describeRange(range: string): string {
  const names: Record<string, string> = {
    loopback: 'loopback',
    private: 'private',
    linkLocal: 'link-local (cloud metadata)',
    uniqueLocal: 'unique-local',
    unspecified: 'unspecified',
    multicast: 'multicast',
    broadcast: 'broadcast',
    carrierGradeNat: 'carrier-grade NAT',
    reserved: 'reserved',
  };
  return names[range] ?? `non-public (${range})`;
}
