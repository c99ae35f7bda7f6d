// A fake kube-apiserver for tests. No real API server (kube-apiserver + etcd, kind, k3s) can run
// on this machine, so this one stands in: HTTPS on 127.0.0.1 with a certificate from a CA made
// in the test (@kubernetes/client-node refuses plain http), bearer-token authentication, API
// discovery (/api, /apis/<group>/<version>), paged lists and watch streams that behave like
// the real server where the Kubernetes source depends on it:
//   - one global resourceVersion; lists carry it, objects carry the version of their last write;
//   - a watch from resourceVersion N streams every later ADDED/MODIFIED/DELETED event, then
//     the live ones, with BOOKMARK events on request (allowWatchBookmarks);
//   - a watch from a compacted resourceVersion gets an ERROR event with a 410 Status (Expired);
//   - list items of core kinds carry no apiVersion/kind (typed lists), CRD items do;
//   - objects are served as the requested version (conversion is the identity for Istio CRDs);
//   - field selectors `field=value` / `field!=value` (type, metadata.name, metadata.namespace);
//   - RBAC like deploy/rbac.yaml when `secretsNamespaces` is set: Secrets only there (403 elsewhere).
// It is not an API server: no validation (an invalid object gets in, as it does past a cluster
// without Istio's webhook), no admission, no status subresources.

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createTestCa, issueCert, type TestCa } from '../support/certs.js';

export interface FakeResourceDef {
  group: string;
  /** Versions served. */
  versions: string[];
  plural: string;
  kind: string;
}

const NET = ['v1', 'v1beta1', 'v1alpha3'];

/** What a cluster with Istio 1.22+ serves (EnvoyFilter exists only as v1alpha3). */
export const ISTIO_CLUSTER: readonly FakeResourceDef[] = [
  { group: 'networking.istio.io', versions: NET, plural: 'gateways', kind: 'Gateway' },
  { group: 'networking.istio.io', versions: NET, plural: 'virtualservices', kind: 'VirtualService' },
  { group: 'networking.istio.io', versions: NET, plural: 'destinationrules', kind: 'DestinationRule' },
  { group: 'networking.istio.io', versions: NET, plural: 'serviceentries', kind: 'ServiceEntry' },
  { group: 'networking.istio.io', versions: NET, plural: 'workloadentries', kind: 'WorkloadEntry' },
  { group: 'networking.istio.io', versions: NET, plural: 'sidecars', kind: 'Sidecar' },
  { group: 'networking.istio.io', versions: ['v1alpha3'], plural: 'envoyfilters', kind: 'EnvoyFilter' },
  { group: 'security.istio.io', versions: ['v1', 'v1beta1'], plural: 'authorizationpolicies', kind: 'AuthorizationPolicy' },
  { group: 'security.istio.io', versions: ['v1', 'v1beta1'], plural: 'requestauthentications', kind: 'RequestAuthentication' },
  { group: 'security.istio.io', versions: ['v1', 'v1beta1'], plural: 'peerauthentications', kind: 'PeerAuthentication' },
  { group: 'telemetry.istio.io', versions: ['v1', 'v1alpha1'], plural: 'telemetries', kind: 'Telemetry' },
  { group: '', versions: ['v1'], plural: 'services', kind: 'Service' },
  { group: '', versions: ['v1'], plural: 'endpoints', kind: 'Endpoints' },
  { group: '', versions: ['v1'], plural: 'secrets', kind: 'Secret' },
  { group: '', versions: ['v1'], plural: 'configmaps', kind: 'ConfigMap' },
  { group: '', versions: ['v1'], plural: 'pods', kind: 'Pod' },
  { group: 'discovery.k8s.io', versions: ['v1'], plural: 'endpointslices', kind: 'EndpointSlice' },
];

type Obj = Record<string, unknown> & { apiVersion?: string; kind?: string; metadata: Record<string, unknown> & { name: string; namespace?: string } };

interface Stored {
  def: FakeResourceDef;
  object: Obj;
}

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  def: FakeResourceDef;
  object: Obj;
}

interface OpenWatch {
  def: FakeResourceDef;
  version: string;
  namespace: string | null;
  fieldSelector: FieldSelector;
  bookmarks: boolean;
  res: ServerResponse;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

type FieldSelector = (o: Obj) => boolean;

function fieldValue(o: Obj, field: string): string {
  if (field === 'metadata.name') return o.metadata.name;
  if (field === 'metadata.namespace') return o.metadata.namespace ?? '';
  if (field === 'type') return typeof o.type === 'string' ? o.type : '';
  throw new Error(`field selector on ${field} is not supported by the fake`);
}

function parseFieldSelector(s: string | undefined): FieldSelector {
  if (s === undefined || s === '') return () => true;
  const terms = s.split(',').map((t) => {
    const m = /^([\w.]+)(!=|==|=)(.*)$/.exec(t);
    if (m === null) throw new Error(`bad field selector ${t}`);
    return { field: m[1]!, neg: m[2] === '!=', value: m[3]! };
  });
  return (o) => terms.every((t) => (fieldValue(o, t.field) === t.value) !== t.neg);
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export class FakeApiServer {
  readonly ca: TestCa;
  readonly token: string;
  readonly requests: LoggedRequest[] = [];
  readonly #resources: readonly FakeResourceDef[];
  readonly #secretsNamespaces: readonly string[] | null;
  readonly #objects = new Map<string, Stored>();
  readonly #history: HistoryEvent[] = [];
  readonly #watches = new Set<OpenWatch>();
  readonly #sockets = new Set<Socket>();
  readonly #tls: { cert: string; key: string };
  #server: Server | null = null;
  #port = 0;
  #rv = 100;
  #compactedRv = 0;
  /** Answer list and watch requests with this status (API server trouble). */
  failWith: number | null = null;

  private constructor(o: { resources: readonly FakeResourceDef[]; secretsNamespaces: readonly string[] | null }) {
    this.ca = createTestCa('Fake kube-apiserver CA');
    const leaf = issueCert(this.ca, 'kube-apiserver', ['127.0.0.1', 'localhost', 'kubernetes.default.svc']);
    this.#tls = { cert: leaf.cert, key: leaf.key };
    this.token = `token-${randomUUID()}`;
    this.#resources = o.resources;
    this.#secretsNamespaces = o.secretsNamespaces;
  }

  static async start(o: { resources?: readonly FakeResourceDef[]; secretsNamespaces?: readonly string[] } = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer({ resources: o.resources ?? ISTIO_CLUSTER, secretsNamespaces: o.secretsNamespaces ?? null });
    await s.listen();
    return s;
  }

  get url(): string {
    return `https://127.0.0.1:${this.#port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Listens (again, on the same port after `down()`). */
  async listen(): Promise<void> {
    const server = createServer({ cert: this.#tls.cert, key: this.#tls.key }, (req, res) => this.#handle(req, res));
    server.on('connection', (s: Socket) => { this.#sockets.add(s); s.once('close', () => this.#sockets.delete(s)); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => { server.removeListener('error', reject); resolve(); });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** The API server goes away: the port refuses connections and every open watch breaks. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const w of this.#watches) w.res.destroy();
    this.#watches.clear();
    for (const s of this.#sockets) s.destroy();
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  async close(): Promise<void> {
    await this.down();
  }

  /** A kubeconfig for this server (CA data and the bearer token), written into `dir`. */
  writeKubeconfig(dir: string): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      `    certificate-authority-data: ${Buffer.from(this.ca.certPem).toString('base64')}`,
      'contexts:',
      '- name: fake',
      '  context: {cluster: fake, user: sluice}',
      'current-context: fake',
      'users:',
      '- name: sluice',
      `  user: {token: ${this.token}}`,
      '',
    ].join('\n'));
    return file;
  }

  /** `kubectl apply` of every document in a YAML text. */
  applyYaml(text: string): void {
    for (const doc of parseAllDocuments(text)) {
      const o = doc.toJS() as Obj | null;
      if (o !== null) this.apply(o);
    }
  }

  /** Creates or replaces an object (ADDED / MODIFIED to the watches); returns its resourceVersion. */
  apply(input: Obj): string {
    const def = this.#defOf(input.apiVersion ?? '', input.kind ?? '');
    const o = structuredClone(input);
    o.metadata.namespace ??= 'default';
    const key = this.#key(def, o.metadata.namespace, o.metadata.name);
    const prev = this.#objects.get(key);
    const rv = ++this.#rv;
    o.metadata.resourceVersion = String(rv);
    o.metadata.uid = (prev?.object.metadata.uid as string | undefined) ?? randomUUID();
    o.metadata.creationTimestamp = (prev?.object.metadata.creationTimestamp as string | undefined) ?? new Date(Date.now() + rv).toISOString();
    o.metadata.generation = ((prev?.object.metadata.generation as number | undefined) ?? 0) + 1;
    // What `kubectl apply` leaves on every object: the source must not keep it.
    o.metadata.managedFields = [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: input.apiVersion, time: new Date().toISOString(), fieldsType: 'FieldsV1', fieldsV1: {} }];
    this.#objects.set(key, { def, object: o });
    this.#emit({ rv, type: prev === undefined ? 'ADDED' : 'MODIFIED', def, object: o });
    return String(rv);
  }

  /** Deletes an object (DELETED to the watches). */
  delete(kind: string, namespace: string, name: string): void {
    const def = this.#resources.find((r) => r.kind === kind);
    if (def === undefined) throw new Error(`fake apiserver: unknown kind ${kind}`);
    const key = this.#key(def, namespace, name);
    const prev = this.#objects.get(key);
    if (prev === undefined) throw new Error(`fake apiserver: ${kind} ${namespace}/${name} not found`);
    this.#objects.delete(key);
    const rv = ++this.#rv;
    const o = structuredClone(prev.object);
    o.metadata.resourceVersion = String(rv);
    this.#emit({ rv, type: 'DELETED', def, object: o });
  }

  get(kind: string, namespace: string, name: string): Obj | undefined {
    const def = this.#resources.find((r) => r.kind === kind);
    return def === undefined ? undefined : structuredClone(this.#objects.get(this.#key(def, namespace, name))?.object);
  }

  /** etcd compaction: events up to now are forgotten; a watch from an older version gets 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history.length = 0;
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.#watches) {
      if (!w.bookmarks) continue;
      const apiVersion = w.def.group === '' ? w.version : `${w.def.group}/${w.version}`;
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: w.def.kind, apiVersion, metadata: { resourceVersion: String(this.#rv) } } })}\n`);
    }
  }

  /** Ends every watch stream cleanly, as the server does when a watch times out. */
  endWatches(): void {
    for (const w of this.#watches) w.res.end();
    this.#watches.clear();
  }

  get openWatches(): number {
    return this.#watches.size;
  }

  #defOf(apiVersion: string, kind: string): FakeResourceDef {
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const def = this.#resources.find((r) => r.kind === kind && r.group === group);
    if (def === undefined || !def.versions.includes(version)) throw new Error(`fake apiserver: no matches for kind "${kind}" in version "${apiVersion}"`);
    return def;
  }

  #key(def: FakeResourceDef, ns: string, name: string): string {
    return `${def.group}/${def.plural}/${ns}/${name}`;
  }

  #served(def: FakeResourceDef, version: string, o: Obj, inList: boolean): Obj {
    const out = structuredClone(o);
    if (inList && def.group === '') {
      delete out.apiVersion;
      delete out.kind;
    } else {
      out.apiVersion = def.group === '' ? version : `${def.group}/${version}`;
      out.kind = def.kind;
    }
    return out;
  }

  #emit(e: HistoryEvent): void {
    this.#history.push(e);
    for (const w of this.#watches) this.#send(w, e);
  }

  #send(w: OpenWatch, e: HistoryEvent): void {
    if (e.def !== w.def) return;
    if (w.namespace !== null && e.object.metadata.namespace !== w.namespace) return;
    if (!w.fieldSelector(e.object)) return;
    w.res.write(`${JSON.stringify({ type: e.type, object: this.#served(w.def, w.version, e.object, false) })}\n`);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const query = Object.fromEntries(url.searchParams);
    const reply = (code: number, body: string): void => {
      this.requests.push({ method: req.method ?? '', path: url.pathname, query, status: code });
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) { reply(401, status(401, 'Unauthorized', 'Unauthorized')); return; }
    const p = url.pathname.split('/').filter((s) => s !== '');
    // Discovery.
    if (url.pathname === '/api') { reply(200, JSON.stringify({ kind: 'APIVersions', versions: ['v1'] })); return; }
    if (url.pathname === '/apis') {
      const groups = [...new Set(this.#resources.filter((r) => r.group !== '').map((r) => r.group))];
      reply(200, JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => this.#apiGroup(g)) }));
      return;
    }
    if (p[0] === 'apis' && p.length === 2) {
      if (!this.#resources.some((r) => r.group === p[1])) { reply(404, status(404, 'NotFound', 'the server could not find the requested resource')); return; }
      reply(200, JSON.stringify(this.#apiGroup(p[1]!)));
      return;
    }
    const gv = p[0] === 'api' ? { group: '', version: p[1] ?? '', rest: p.slice(2) } : p[0] === 'apis' ? { group: p[1] ?? '', version: p[2] ?? '', rest: p.slice(3) } : null;
    if (gv === null) { reply(404, status(404, 'NotFound', 'the server could not find the requested resource')); return; }
    const inGv = this.#resources.filter((r) => r.group === gv.group && r.versions.includes(gv.version));
    if (gv.rest.length === 0) {
      if (inGv.length === 0) { reply(404, status(404, 'NotFound', 'the server could not find the requested resource')); return; }
      const groupVersion = gv.group === '' ? gv.version : `${gv.group}/${gv.version}`;
      reply(200, JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: inGv.map((r) => ({ name: r.plural, singularName: '', namespaced: true, kind: r.kind, verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] })) }));
      return;
    }
    // Collections: /<plural> or /namespaces/<ns>/<plural>.
    let namespace: string | null = null;
    let plural: string;
    if (gv.rest.length === 1) plural = gv.rest[0]!;
    else if (gv.rest.length === 3 && gv.rest[0] === 'namespaces') { namespace = gv.rest[1]!; plural = gv.rest[2]!; }
    else { reply(404, status(404, 'NotFound', 'the server could not find the requested resource')); return; }
    const def = inGv.find((r) => r.plural === plural);
    if (def === undefined) { reply(404, status(404, 'NotFound', 'the server could not find the requested resource')); return; }
    const watch = query.watch === 'true' || query.watch === '1';
    if (req.method !== 'GET') { reply(405, status(405, 'MethodNotAllowed', 'the fake serves GET only')); return; }
    if (def.kind === 'Secret' && this.#secretsNamespaces !== null && (namespace === null || !this.#secretsNamespaces.includes(namespace))) {
      const verb = watch ? 'watch' : 'list';
      reply(403, status(403, 'Forbidden', `secrets is forbidden: User "system:serviceaccount:istio-system:sluice" cannot ${verb} resource "secrets" in API group "" ${namespace === null ? 'at the cluster scope' : `in the namespace "${namespace}"`}`));
      return;
    }
    if (this.failWith !== null) { reply(this.failWith, status(this.failWith, 'InternalError', 'the fake API server was told to fail')); return; }
    let selector: FieldSelector;
    try {
      selector = parseFieldSelector(query.fieldSelector);
    } catch (e) {
      reply(400, status(400, 'BadRequest', (e as Error).message));
      return;
    }
    if (watch) { this.#watch(req, res, url, query, def, gv.version, namespace, selector); return; }
    this.#list(reply, query, def, gv.version, namespace, selector);
  }

  #apiGroup(group: string): Record<string, unknown> {
    const versions = [...new Set(this.#resources.filter((r) => r.group === group).flatMap((r) => r.versions))];
    return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v })), preferredVersion: { groupVersion: `${group}/${versions[0]}`, version: versions[0] } };
  }

  #list(reply: (code: number, body: string) => void, query: Record<string, string>, def: FakeResourceDef, version: string, namespace: string | null, selector: FieldSelector): void {
    const all = [...this.#objects.entries()]
      .filter(([, s]) => s.def === def && (namespace === null || s.object.metadata.namespace === namespace) && selector(s.object))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, s]) => this.#served(def, version, s.object, true));
    let start = 0;
    let rv = String(this.#rv);
    if (query.continue !== undefined && query.continue !== '') {
      const [crv, offset] = query.continue.split(':');
      if (Number(crv) < this.#compactedRv) { reply(410, status(410, 'Expired', 'The provided continue parameter is too old')); return; }
      start = Number(offset);
      rv = crv!;
    }
    const limit = query.limit !== undefined ? Number(query.limit) : all.length;
    const items = all.slice(start, start + limit);
    const next = start + limit < all.length ? `${rv}:${start + limit}` : undefined;
    const listKind = `${def.kind}List`;
    reply(200, JSON.stringify({ kind: listKind, apiVersion: def.group === '' ? version : `${def.group}/${version}`, metadata: { resourceVersion: rv, ...(next !== undefined ? { continue: next } : {}) }, items }));
  }

  #watch(req: IncomingMessage, res: ServerResponse, url: URL, query: Record<string, string>, def: FakeResourceDef, version: string, namespace: string | null, selector: FieldSelector): void {
    this.requests.push({ method: 'WATCH', path: url.pathname, query, status: 200 });
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { def, version, namespace, fieldSelector: selector, bookmarks: query.allowWatchBookmarks === 'true', res };
    const from = query.resourceVersion ?? '';
    if (from !== '' && from !== '0' && Number(from) < this.#compactedRv) {
      // As kube-apiserver: a 200 stream whose only event is a 410 Status, then the end.
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.#compactedRv})`, reason: 'Expired', code: 410 } })}\n`);
      return;
    }
    if (from === '' || from === '0') {
      for (const s of this.#objects.values()) this.#send(w, { rv: 0, type: 'ADDED', def: s.def, object: s.object });
    } else {
      for (const e of this.#history) if (e.rv > Number(from)) this.#send(w, e);
    }
    this.#watches.add(w);
    const timeout = query.timeoutSeconds !== undefined ? setTimeout(() => { this.#watches.delete(w); res.end(); }, Number(query.timeoutSeconds) * 1000) : null;
    const gone = (): void => { this.#watches.delete(w); if (timeout !== null) clearTimeout(timeout); };
    req.socket.once('close', gone);
    res.once('close', gone);
  }
}
