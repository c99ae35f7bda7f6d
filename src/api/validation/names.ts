// DNS names, hosts and wildcards the way istio/istio pkg/config/labels, pkg/config/host and
// validation/agent check them. Istio is strict: names are lower-case DNS-1123, a wildcard is a
// leading `*` label (Istio also tolerates `*foo`/`*-foo` prefixes in some kinds, see
// isPartialWildcard), and a short name (no dot) is only legal where a rule namespace expands it.

import { isIP } from 'node:net';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Istio's wildcardPrefix: `*`, or a label optionally prefixed by `*` or `*-`.
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/** Why a DNS name is invalid, or undefined. Mirrors agent.CheckDNS1123Preconditions + labels. */
function checkLabels(domain: string, labels: readonly string[]): string | undefined {
  const tld = labels[labels.length - 1]!;
  if (/^\d+$/.test(tld)) return `domain name "${domain}" invalid (top level domain "${tld}" cannot be all-numeric)`;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (i === labels.length - 1 && l === '') return undefined; // trailing dot: `istio.io.`
    if (!isDns1123Label(l)) return `domain name "${domain}" invalid (label "${l}" invalid)`;
  }
  return undefined;
}

function preconditions(name: string): string | undefined {
  if (name.length === 0) return 'empty domain name not allowed';
  if (name.length > 255) return `domain name "${name.slice(0, 40)}..." too long (max 255)`;
  return undefined;
}

/** agent.ValidateFQDN: every label a DNS-1123 label. */
export function fqdnError(name: string): string | undefined {
  return preconditions(name) ?? checkLabels(name, name.split('.'));
}

/** agent.ValidateWildcardDomain: an FQDN whose first label may be a wildcard. */
export function wildcardDomainError(name: string): string | undefined {
  const pre = preconditions(name);
  if (pre !== undefined) return pre;
  const dot = name.indexOf('.');
  const first = dot < 0 ? name : name.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first)) return `domain name "${name}" invalid (label "${first}" invalid)`;
  if (dot < 0) return undefined;
  return checkLabels(name, name.slice(dot + 1).split('.'));
}

/** `*foo.example.com` / `*-foo.example.com`: a wildcard that is not a whole label. */
export function isPartialWildcard(name: string): boolean {
  return name.includes('*') && name !== '*' && !name.startsWith('*.');
}

/** Fix text for a host that failed validation: the most likely slips first. */
export function hostFix(name: string): string {
  if (name !== name.toLowerCase()) return `host names must be lower case: "${name.toLowerCase()}"`;
  if (/^[a-z]+:\/\//i.test(name)) return `write only the host name, without scheme or path: "${name.replace(/^[a-z]+:\/\//i, '').split('/')[0]}"`;
  if (name.includes(':')) return 'remove the port; ports are matched separately';
  if (name.includes('*')) return 'a wildcard must be the whole left-most label, e.g. "*.example.com"';
  return 'use a DNS name of lower-case letters, digits, "-" and ".", optionally starting with "*."';
}

/** host.Name.Matches: equal, or one wildcard covers the other (used for duplicate detection). */
export function hostsIntersect(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** host.Name.SubsetOf: every name matched by `n` is matched by `o`. */
export function hostSubsetOf(n: string, o: string): boolean {
  if (n === o) return true;
  if (!o.startsWith('*')) return false;
  if (n.startsWith('*')) return n.length >= o.length && n.slice(1).endsWith(o.slice(1));
  return n.endsWith(o.slice(1));
}

/**
 * Gateway server / Sidecar egress host: `[ns/]dnsName` (agent.ValidateNamespaceSlashWildcardHostname).
 * Returns every problem found (Istio reports them all).
 */
export function namespacedHostErrors(host: string, isGateway: boolean): string[] {
  const errs: string[] = [];
  const slash = host.indexOf('/');
  if (slash < 0) {
    if (!isGateway) return ['host must be of form namespace/dnsName'];
    hostPartErrors(host, true, errs);
    return errs;
  }
  const ns = host.slice(0, slash);
  const dns = host.slice(slash + 1);
  if (ns === '' || dns === '') errs.push('config namespace and dnsName in host entry cannot be empty');
  const nsOk = ns === '*' || ns === '.' || (!isGateway && ns === '~') || isDns1123Label(ns);
  if (!nsOk) errs.push(`invalid namespace value "${ns}" in ${isGateway ? 'gateway' : 'sidecar'}`);
  if (dns !== '') hostPartErrors(dns, isGateway, errs);
  return errs;
}

function hostPartErrors(name: string, isGateway: boolean, errs: string[]): void {
  if (name !== '*' && !name.includes('.')) errs.push(`short name "${name}" is not allowed here; use a fully qualified name like "${name}.example.com" or "${name}.<namespace>.svc.cluster.local"`);
  const e = wildcardDomainError(name);
  if (e !== undefined && !(isGateway && isIpAddress(name))) errs.push(e);
  if (isPartialWildcard(name)) errs.push(`partial wildcard "${name}" not allowed`);
}
