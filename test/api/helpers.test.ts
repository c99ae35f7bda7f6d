// Unit tests for the shared validation helpers: Go durations, did-you-mean, DNS/host rules,
// RE2, header names and values.

import { describe, expect, it } from 'vitest';
import { suggest } from '../../src/api/validation/did-you-mean.js';
import { parseGoDuration } from '../../src/api/validation/duration.js';
import { headerNameError, headerValueError, isJwtClaimRoute } from '../../src/api/validation/headers.js';
import { fqdnError, hostsIntersect, hostSubsetOf, namespacedHostErrors, wildcardDomainError } from '../../src/api/validation/names.js';
import { ipOrCidrError } from '../../src/api/validation/net.js';
import { re2Error } from '../../src/api/validation/regex.js';

describe('parseGoDuration', () => {
  it.each([
    ['1.5s', 1_500_000_000n],
    ['300ms', 300_000_000n],
    ['1h', 3_600_000_000_000n],
    ['1h30m', 5_400_000_000_000n],
    ['0', 0n],
    ['.5s', 500_000_000n],
    ['1µs', 1_000n],
    ['-2m', -120_000_000_000n],
  ])('%s', (text, ns) => expect(parseGoDuration(text)).toBe(ns));
  it.each(['10', '1d', '', 's', '1.5', '5 s'])('rejects %j', (text) => expect(typeof parseGoDuration(text)).toBe('string'));
});

describe('suggest', () => {
  it.each([
    ['ISTIO_MUTUAL_TLS', ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'], 'ISTIO_MUTUAL'],
    ['retryOns', ['attempts', 'perTryTimeout', 'retryOn'], 'retryOn'],
    ['round_robin', ['RANDOM', 'ROUND_ROBIN', 'LEAST_REQUEST'], 'ROUND_ROBIN'],
    ['tlss', ['port', 'hosts', 'tls'], 'tls'],
  ])('%s → %s', (input, candidates, want) => expect(suggest(input, candidates)).toBe(want));
  it('stays quiet when nothing is close', () => expect(suggest('banana', ['port', 'hosts', 'tls'])).toBeUndefined());
});

describe('hosts', () => {
  it.each(['example.com', '*.example.com', '*', 'reviews', 'a-b.c1.example.', '*foo.example.com'])('wildcard domain %s is valid', (h) => expect(wildcardDomainError(h)).toBeUndefined());
  it.each(['Example.com', 'a..b', 'a.*.com', 'under_score.com', 'a.123', ''])('wildcard domain %j is invalid', (h) => expect(wildcardDomainError(h)).toBeDefined());
  it('FQDNs have no wildcard', () => expect(fqdnError('*.example.com')).toBeDefined());
  it.each([
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', '*.b.example.com', true],
    ['*', 'anything.io', true],
    ['a.example.com', 'b.example.com', false],
    ['*.example.com', 'example.com', false],
  ])('%s ∩ %s = %s', (a, b, want) => expect(hostsIntersect(a, b)).toBe(want));
  it.each([
    ['www.wikipedia.org', '*.wikipedia.org', true],
    ['*.en.wikipedia.org', '*.wikipedia.org', true],
    ['*.wikipedia.org', 'www.wikipedia.org', false],
    ['www.google.com', '*.wikipedia.org', false],
  ])('%s ⊆ %s = %s', (n, o, want) => expect(hostSubsetOf(n, o)).toBe(want));
  it.each([
    ['api.example.com', 0],
    ['prod/*.example.com', 0],
    ['./a.example.com', 0],
    ['*', 0],
    ['10.0.0.1', 0],
    ['short', 1],
    ['*bar.com', 1],
    ['ns/', 1],
    ['Bad/a.example.com', 1],
  ])('gateway host %s has %d problem(s)', (h, n) => expect(namespacedHostErrors(h, true)).toHaveLength(n));
  it('sidecar hosts need a namespace', () => expect(namespacedHostErrors('a.example.com', false)).toHaveLength(1));
});

describe('ip and cidr', () => {
  it.each(['10.0.0.1', '10.0.0.0/8', '2001:db8::/32', '::1'])('%s is valid', (s) => expect(ipOrCidrError(s)).toBeUndefined());
  it.each(['10.0.0.0/33', '1.2.3', 'a.b.c.d', '10.0.0.1/8/1', '01.2.3.4'])('%s is invalid', (s) => expect(ipOrCidrError(s)).toBeDefined());
});

describe('re2', () => {
  it('compiles RE2 syntax', () => expect(re2Error('^/users/[0-9]+/profile$')).toBeUndefined());
  it('refuses look-behind with a JavaScript hint', () => expect(re2Error('(?<=a)b')).toMatch(/look-around/));
  it('refuses malformed patterns', () => expect(re2Error('[')).toMatch(/missing \]/));
  it('limits the size', () => expect(re2Error('a'.repeat(1025))).toMatch(/too large/));
});

describe('headers', () => {
  it.each(['x-canary', 'X_Custom', 'authorization'])('%s is a header name', (h) => expect(headerNameError(h)).toBeUndefined());
  it.each(['', 'bad header', ':path', 'x/y'])('%j is not a header name', (h) => expect(headerNameError(h)).toBeDefined());
  it.each(['foo', '%HOSTNAME%', '100%%', 'prefix %START_TIME% suffix'])('%s is a header value', (v) => expect(headerValueError(v)).toBeUndefined());
  it.each(['abc%123', '%START_TIME%%', 'a\nb'])('%j is not a header value', (v) => expect(headerValueError(v)).toBeDefined());
  it.each(['@request.auth.claims.groups', '@request.auth.claims.a.b', '@request.auth.claims[a][b]'])('%s is a claim route', (k) => expect(isJwtClaimRoute(k)).toBe(true));
  it.each(['@request.auth.claims.', '@request.auth.claim.a'])('%s is not a claim route', (k) => expect(isJwtClaimRoute(k)).toBe(false));
});
