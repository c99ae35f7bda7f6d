import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

export interface SluiceOptions {
  /** Config files or folders (-c). */
  config: string[];
  /** Gateway server ports to bind on free local ports (--port-map). */
  ports?: number[];
  args?: string[];
  /** Wait for /ready (default true). */
  waitReady?: boolean;
}

export interface SluiceProcess {
  readonly child: ChildProcess;
  readonly adminPort: number;
  /** Local port a Gateway server port is bound on. */
  port(servicePort: number): number;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Waits until a stdout/stderr line matches. */
  waitFor(re: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function lines(buf: string[], onLine: () => void): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) { buf.push(rest.slice(0, i)); rest = rest.slice(i + 1); }
    onLine();
  };
}

/**
 * Starts the real `sluice run` process, on 127.0.0.1 with free ports, and waits until ready.
 * A port found free can be taken by a parallel test before Sluice binds it: on EADDRINUSE the
 * start is retried with fresh ports.
 */
export async function startSluice(o: SluiceOptions): Promise<SluiceProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSluiceOnce(o);
    } catch (e) {
      if (attempt >= 5 || !/EADDRINUSE/.test((e as Error).message)) throw e;
    }
  }
}

async function startSluiceOnce(o: SluiceOptions): Promise<SluiceProcess> {
  const adminPort = await freePort();
  const map = new Map<number, number>();
  for (const p of o.ports ?? []) map.set(p, await freePort());
  const args = [SLUICE_BIN, 'run', ...o.config.flatMap((c) => ['-c', c]), '--admin-port', String(adminPort), '--listen-host', '127.0.0.1'];
  if (map.size > 0) args.push('--port-map', [...map].map(([a, b]) => `${a}=${b}`).join(','));
  args.push(...(o.args ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => { for (const w of [...waiters]) w(); };
  child.stdout!.on('data', lines(stdout, notify));
  child.stderr!.on('data', lines(stderr, notify));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => { notify(); r(code); }));
  let exitCode: number | null | undefined;
  void exited.then((c) => { exitCode = c; });
  const proc: SluiceProcess = {
    child,
    adminPort,
    port: (p) => map.get(p) ?? p,
    stdout,
    stderr,
    exited,
    admin: (path, init) => fetch(`http://127.0.0.1:${adminPort}${path}`, init),
    waitFor: (re, stream = 'stderr', timeoutMs = 10_000) => new Promise((resolve, reject) => {
      const buf = stream === 'stdout' ? stdout : stderr;
      let from = 0;
      const check = (): void => {
        for (; from < buf.length; from++) if (re.test(buf[from]!)) { cleanup(); resolve(buf[from]!); return; }
        if (exitCode !== undefined) { cleanup(); reject(new Error(`sluice exited (${exitCode}) before ${re}: ${stderr.slice(-5).join('\n')}`)); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timeout waiting for ${re} on ${stream}; last lines:\n${buf.slice(-5).join('\n')}`)); }, timeoutMs);
      const cleanup = (): void => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
    stop: async (signal = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const c = await exited;
      clearTimeout(t);
      return c;
    },
  };
  if (o.waitReady !== false) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exitCode !== undefined) throw new Error(`sluice exited with ${exitCode}:\n${stderr.join('\n')}`);
      try {
        const r = await proc.admin('/ready');
        if (r.status === 200) break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) { await proc.stop('SIGKILL'); throw new Error(`sluice not ready after 20 s:\n${stderr.join('\n')}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return proc;
}

/** Runs a sluice command to completion (analyze, run with a bad config, ...). */
export function runSluice(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SLUICE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}
