// deploy/: the manifests parse, hold the kinds a gateway deployment needs, agree with each other
// (labels, ports, names) and with Sluice itself (every container flag is one `sluice run --help`
// lists; RBAC grants exactly what the Kubernetes source reads). No cluster and no container
// engine exist on this machine: the manifests are not applied and the image is not built here.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { WATCHED_RESOURCES } from '../../src/config/kubernetes/resources.js';
import { readRateLimitConfigFile } from '../../src/proxy/filters/ratelimit/service.js';
import { runSluice } from '../support/sluice-process.js';
import { tempDir } from './helpers.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));

type Doc = Record<string, any>;

function load(file: string): Doc[] {
  const docs: Doc[] = [];
  for (const d of parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'))) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    const o = d.toJS() as Doc | null;
    if (o !== null) docs.push({ ...o, __file: file });
  }
  return docs;
}

const manifestFiles = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const docs = manifestFiles.flatMap(load);
const one = (kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
};

/** Every `--flag` that `sluice run --help` lists. */
let runFlags: Set<string>;
beforeAll(async () => {
  const help = await runSluice(['run', '--help']);
  expect(help.code).toBe(0);
  runFlags = new Set([...help.stdout.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
  expect(runFlags.has('--source')).toBe(true);
});

/** The flags in an argument list (`--x` tokens), after the `run` command. */
function flagsOf(args: string[]): string[] {
  expect(args[0]).toBe('run');
  return args.filter((a) => a.startsWith('--'));
}

function argValue(args: string[], flag: string): string {
  const i = args.indexOf(flag);
  expect(i, flag).toBeGreaterThan(0);
  return args[i + 1]!;
}

describe('deploy/ manifests', () => {
  it('parse, and hold a gateway Deployment with Service, RBAC, Redis, HPA and PodDisruptionBudget', () => {
    for (const d of docs) {
      expect(typeof d.apiVersion, `${d.__file} apiVersion`).toBe('string');
      expect(typeof d.metadata?.name, `${d.__file} metadata.name`).toBe('string');
    }
    const kinds = docs.map((d) => `${d.apiVersion} ${d.kind}`).sort();
    expect(kinds).toEqual([
      'apps/v1 Deployment', 'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'policy/v1 PodDisruptionBudget',
      'rbac.authorization.k8s.io/v1 ClusterRole', 'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
      'rbac.authorization.k8s.io/v1 Role', 'rbac.authorization.k8s.io/v1 RoleBinding',
      'v1 ConfigMap', 'v1 Service', 'v1 Service', 'v1 ServiceAccount',
    ].sort());
    const kustomization = load('kustomization.yaml')[0]!;
    expect([...kustomization.resources].sort()).toEqual(manifestFiles);
  });

  it('the container runs `sluice run --source kubernetes` with flags `sluice run --help` lists', () => {
    const dep = one('Deployment', 'sluice-ingressgateway');
    const c = dep.spec.template.spec.containers[0];
    const args = c.args as string[];
    for (const f of flagsOf(args)) expect(runFlags, `${f} is not a sluice run flag`).toContain(f);
    expect(argValue(args, '--source')).toBe('kubernetes');
    // $(VAR) references are expanded by the kubelet from the container's env.
    const env = new Set((c.env as { name: string }[]).map((e) => e.name));
    for (const a of args) for (const m of a.matchAll(/\$\(([A-Z_]+)\)/g)) expect(env, `${a}`).toContain(m[1]);
    // The labels Gateway selectors match are the pod's.
    const labels = Object.fromEntries(argValue(args, '--labels').split(',').map((kv) => kv.split('=') as [string, string]));
    expect(labels).toEqual(dep.spec.template.metadata.labels);
    expect(dep.spec.selector.matchLabels).toEqual(dep.spec.template.metadata.labels);
  });

  it('ports line up: Service 80/443 → --port-map → container ports; readiness on the admin /ready', () => {
    const dep = one('Deployment', 'sluice-ingressgateway');
    const c = dep.spec.template.spec.containers[0];
    const args = c.args as string[];
    const portMap = new Map(argValue(args, '--port-map').split(',').map((p) => p.split('=').map(Number) as [number, number]));
    expect([...portMap]).toEqual([[80, 8080], [443, 8443]]);
    const containerPorts = new Map((c.ports as { name: string; containerPort: number }[]).map((p) => [p.name, p.containerPort]));
    const svc = one('Service', 'sluice-ingressgateway');
    expect(svc.spec.selector).toEqual(dep.spec.template.metadata.labels);
    for (const p of svc.spec.ports as { port: number; targetPort: number }[]) {
      expect(portMap.get(p.port), `Service port ${p.port}`).toBe(p.targetPort);
      expect([...containerPorts.values()]).toContain(p.targetPort);
    }
    expect(svc.spec.ports.map((p: { port: number }) => p.port)).toEqual([80, 443]);
    // The admin API is reachable by the kubelet (pod IP) on the probed port.
    expect(argValue(args, '--admin-host')).toBe('0.0.0.0');
    expect(containerPorts.get('admin')).toBe(Number(argValue(args, '--admin-port')));
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'admin' });
    expect(c.livenessProbe.httpGet.path).not.toBe('/ready'); // a draining pod is not dead
    // The drain fits in the grace period, after the preStop pause.
    const grace = dep.spec.template.spec.terminationGracePeriodSeconds as number;
    expect(Number(argValue(args, '--drain-timeout')) + 5).toBeLessThan(grace);
  });

  it('global rate limits: --ratelimit-redis names the Redis Service; --ratelimit-config is a mounted ConfigMap Sluice accepts', () => {
    const dep = one('Deployment', 'sluice-ingressgateway');
    const c = dep.spec.template.spec.containers[0];
    const args = c.args as string[];
    const redis = new URL(argValue(args, '--ratelimit-redis'));
    const redisSvc = one('Service', redis.hostname);
    expect(redisSvc.spec.ports.map((p: { port: number }) => p.port)).toContain(Number(redis.port));
    expect(redisSvc.spec.selector).toEqual(one('Deployment', 'sluice-redis').spec.template.metadata.labels);
    const file = argValue(args, '--ratelimit-config');
    const mount = (c.volumeMounts as { name: string; mountPath: string }[]).find((m) => file.startsWith(`${m.mountPath}/`))!;
    expect(mount).toBeDefined();
    const volume = (dep.spec.template.spec.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === mount.name)!;
    const cm = one('ConfigMap', volume.configMap!.name);
    const key = file.slice(mount.mountPath.length + 1);
    expect(Object.keys(cm.data)).toContain(key);
    const tmp = join(tempDir(), key);
    writeFileSync(tmp, cm.data[key]);
    expect(readRateLimitConfigFile(tmp).map((d) => d.domain)).toEqual(['ratelimit']);
  });

  it('RBAC grants read access to exactly what the source watches; Secrets only in the gateway namespace', () => {
    const dep = one('Deployment', 'sluice-ingressgateway');
    const sa = one('ServiceAccount');
    expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const cluster = one('ClusterRole').rules as Rule[];
    const ns = one('Role');
    for (const r of [...cluster, ...(ns.rules as Rule[])]) expect([...r.verbs].sort()).toEqual(['get', 'list', 'watch']);
    const granted = (rules: Rule[]): Set<string> => new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`))));
    const clusterWide = granted(cluster);
    const wanted = WATCHED_RESOURCES.filter((r) => r.scope === 'watched').map((r) => `${r.group}/${r.plural}`);
    expect([...clusterWide].sort()).toEqual([...wanted].sort());
    expect(clusterWide.has('/secrets')).toBe(false);
    // Pods: endpoints of Services take their labels (DestinationRule subsets) and service account from them.
    expect(clusterWide.has('/pods')).toBe(true);
    expect([...granted(ns.rules as Rule[])]).toEqual(['/secrets']);
    expect(ns.metadata.namespace).toBe(dep.metadata.namespace);
    for (const b of [one('ClusterRoleBinding'), one('RoleBinding')]) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: dep.metadata.namespace }]);
    }
    expect(one('ClusterRoleBinding').roleRef.name).toBe(one('ClusterRole').metadata.name);
    expect(one('RoleBinding').roleRef.name).toBe(ns.metadata.name);
  });

  it('the HPA scales the gateway Deployment; the PodDisruptionBudget keeps one replica', () => {
    const dep = one('Deployment', 'sluice-ingressgateway');
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = one('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.template.metadata.labels);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
  });

  it('the Dockerfile (untested: no container engine here) starts bin/sluice.js with valid run flags', () => {
    const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    const from = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    for (const image of from) expect(image).toMatch(/^node:20-/);
    expect(JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)![1]!)).toEqual(['node', '/app/bin/sluice.js']);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
    for (const f of flagsOf(cmd)) expect(runFlags, `${f} is not a sluice run flag`).toContain(f);
    // Everything the image copies exists in the repository.
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(' ')) expect(existsSync(fileURLToPath(new URL(`../../${src}`, import.meta.url))), src).toBe(true);
    }
  });
});
