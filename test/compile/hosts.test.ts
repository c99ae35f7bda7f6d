import { describe, expect, it } from 'vitest';
import { hostCovers, intersectHosts, normalizeHost, stripPort } from '../../src/compile/hosts.js';

describe('host names', () => {
  it.each([
    ['reviews', 'default', 'reviews.default.svc.cluster.local'],
    ['Reviews', 'shop', 'reviews.shop.svc.cluster.local'],
    ['reviews.prod', 'default', 'reviews.prod'],
    ['*', 'default', '*'],
    ['*.example.com', 'default', '*.example.com'],
    ['10.0.0.1', 'default', '10.0.0.1'],
  ])('normalizeHost(%s, %s) = %s', (h, ns, want) => {
    expect(normalizeHost(h, ns)).toBe(want);
  });

  it.each([
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*', 'anything.test', true],
    ['*.example.com', '*.api.example.com', true],
    ['*.api.example.com', '*.example.com', false],
    ['api.example.com', 'api.example.com', true],
  ])('hostCovers(%s, %s) = %s', (p, h, want) => {
    expect(hostCovers(p, h)).toBe(want);
  });

  it.each([
    ['*.example.com', 'foo.example.com', 'foo.example.com'],
    ['foo.example.com', '*.example.com', 'foo.example.com'],
    ['*', '*.example.com', '*.example.com'],
    ['a.test', 'b.test', null],
    ['*.a.test', '*.b.test', null],
  ])('intersectHosts(%s, %s) = %s', (a, b, want) => {
    expect(intersectHosts(a, b)).toBe(want);
  });

  it.each([
    ['example.com:8080', 'example.com'],
    ['example.com', 'example.com'],
    ['[::1]:443', '[::1]'],
    ['[::1]', '[::1]'],
    ['::1', '::1'],
  ])('stripPort(%s) = %s', (a, want) => {
    expect(stripPort(a)).toBe(want);
  });
});
