import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigLoader } from '../../src/config/loader.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';

const vs = (name: string, regex = '/ok') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.test]
  http:
  - match: [{uri: {regex: "${regex}"}}]
    route: [{destination: {host: a}}]
`;

describe('ConfigLoader', () => {
  it('keeps the last good version of a resource whose edit is invalid, and applies the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-loader-'));
    writeFileSync(join(dir, 'a.yaml'), vs('a'));
    writeFileSync(join(dir, 'b.yaml'), vs('b'));
    const loader = new ConfigLoader([dir]);
    const first = loader.load();
    expect(first.store.size).toBe(2);
    expect(first.diagnostics.filter((d) => d.level === 'error')).toEqual([]);

    writeFileSync(join(dir, 'a.yaml'), vs('a', '(broken'));
    writeFileSync(join(dir, 'b.yaml'), vs('b', '/changed'));
    const second = loader.load();
    expect(second.heldBack).toEqual(['VirtualService default/a']);
    expect(second.store.get('VirtualService', 'default', 'a')!.spec.http![0]!.match![0]!.uri!.regex).toBe('/ok');
    expect(second.store.get('VirtualService', 'default', 'b')!.spec.http![0]!.match![0]!.uri!.regex).toBe('/changed');
    expect(second.changed).toBe(true);
    expect(second.store.version).toBe(first.store.version + 1);
  });

  it('keeps everything a file held when the file stops parsing, and drops deleted resources', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-loader-'));
    writeFileSync(join(dir, 'a.yaml'), `${vs('a')}---\n${vs('c')}`);
    const loader = new ConfigLoader([dir]);
    expect(loader.load().store.size).toBe(2);
    writeFileSync(join(dir, 'a.yaml'), 'apiVersion: [unclosed\n');
    const broken = loader.load();
    expect(broken.store.size).toBe(2);
    expect(broken.diagnostics.some((d) => d.code === 'SLU0002' && d.file?.endsWith('a.yaml'))).toBe(true);
    rmSync(join(dir, 'a.yaml'));
    expect(loader.load().store.size).toBe(0);
  });

  it('does not bump the version when nothing changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-loader-'));
    writeFileSync(join(dir, 'a.yaml'), vs('a'));
    const loader = new ConfigLoader([dir]);
    const v1 = loader.load();
    const v2 = loader.load();
    expect(v2.changed).toBe(false);
    expect(v2.store.version).toBe(v1.store.version);
  });

  it('reports a duplicate resource and keeps the first definition', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-loader-'));
    writeFileSync(join(dir, 'a.yaml'), vs('a'));
    writeFileSync(join(dir, 'b.yaml'), vs('a', '/second'));
    const r = new ConfigLoader([dir]).load();
    expect(r.diagnostics.find((d) => d.code === 'SLU0004')?.message).toMatch(/defined twice/);
    expect(r.store.get('VirtualService', 'default', 'a')!.spec.http![0]!.match![0]!.uri!.regex).toBe('/ok');
  });
});

describe('YAML documents', () => {
  it('skips empty documents between separators and comment-only documents', async () => {
    const { parseConfigText } = await import('../../src/config/yaml-loader.js');
    const r = parseConfigText('x.yaml', 'apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n---\n# only a comment\n');
    expect(r.errors).toEqual([]);
    expect(r.resources.map((x) => x.metadata.name)).toEqual(['a', 'b']);
  });
});

describe('parseConfigText: fragments that are not Kubernetes objects', () => {
  it("the seed's `resources:` block (Performance Tuning) is named for what it is, with where it belongs", () => {
    const { errors } = parseConfigText('perf.yaml', '# Production gateway deployment\nresources:\n  requests:\n    cpu: 1000m\n    memory: 2Gi\n  limits:\n    cpu: 2000m\n    memory: 4Gi\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'SLU0003', level: 'error', line: 2 });
    expect(errors[0]!.fix).toContain("a container's CPU/memory `resources`");
    expect(errors[0]!.fix).toContain('deploy/deployment.yaml');
  });
});
