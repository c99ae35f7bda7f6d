// Fixture grid in the style of istio/istio pkg/config/validation/testdata/crds: for each kind a
// `<kind>-valid.yaml` (every document accepted, only the annotated warnings) and a
// `<kind>-invalid.yaml` (every document refused, every error annotated with code, path, line).

import { describe, expect, it } from 'vitest';
import { matches, runFixture, show, type DocResult } from './harness.js';

const KINDS = [
  'gateway',
  'virtualservice',
  'destinationrule',
  'serviceentry',
  'workloadentry',
  'sidecar',
  'envoyfilter',
  'authorizationpolicy',
  'requestauthentication',
  'peerauthentication',
  'telemetry',
  'meshconfig',
  'secret',
  'service',
  'endpoints',
  'endpointslice',
];

function unexpected(doc: DocResult, levels: readonly string[]): string[] {
  return doc.diagnostics
    .filter((d) => levels.includes(d.level) && !doc.expectations.some((e) => matches(d, e)))
    .map((d) => `${d.line} ${d.level} ${d.code} ${d.path}: ${d.message}`);
}

function unmet(doc: DocResult): string[] {
  return doc.expectations.filter((e) => !doc.diagnostics.some((d) => matches(d, e))).map((e) => `${e.line} ${e.level} ${e.code} ${e.path}`);
}

describe.each(KINDS)('%s', (kind) => {
  describe('valid', () => {
    const docs = runFixture(`${kind}-valid.yaml`);
    it('has documents', () => expect(docs.length).toBeGreaterThan(0));
    it.each(docs.map((d) => [`${d.kind} ${d.name} (line ${d.line})`, d] as const))('%s', (_, doc) => {
      expect(doc.accepted, `refused:\n${show(doc.diagnostics)}`).toBe(true);
      expect(unexpected(doc, ['error', 'warning']), `unexpected diagnostics:\n${show(doc.diagnostics)}`).toEqual([]);
      expect(unmet(doc), `expected diagnostics missing; got:\n${show(doc.diagnostics)}`).toEqual([]);
    });
  });
  describe('invalid', () => {
    const docs = runFixture(`${kind}-invalid.yaml`);
    it('has documents', () => expect(docs.length).toBeGreaterThan(0));
    it.each(docs.map((d) => [`${d.kind} ${d.name} (line ${d.line})`, d] as const))('%s', (_, doc) => {
      expect(doc.accepted, 'accepted, but should be refused').toBe(false);
      expect(doc.expectations.length, 'document has no # expect annotation').toBeGreaterThan(0);
      expect(unexpected(doc, ['error']), `unannotated errors:\n${show(doc.diagnostics)}`).toEqual([]);
      expect(unmet(doc), `expected diagnostics missing; got:\n${show(doc.diagnostics)}`).toEqual([]);
    });
  });
});
