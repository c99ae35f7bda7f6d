import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface CurlResult {
  /** curl's exit code (0 = transfer done; 35/56 = TLS/receive failure, e.g. a tunnel closed). */
  exit: number | null;
  status: number;
  body: string;
  stderr: string;
}

/**
 * The application: the real curl, reaching the outside through its sidecar the way apps do,
 * with http_proxy / https_proxy in its environment (absolute-form requests for http://,
 * CONNECT tunnels for https://).
 */
export function curlViaProxy(proxyPort: number, url: string, extra: string[] = []): Promise<CurlResult> {
  const proxy = `http://127.0.0.1:${proxyPort}`;
  return new Promise((resolve) => {
    const child = spawn('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...extra, url], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', http_proxy: proxy, https_proxy: proxy, HTTPS_PROXY: proxy, no_proxy: '', NO_PROXY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (exit) => {
      const nl = out.lastIndexOf('\n');
      resolve({ exit, status: Number(out.slice(nl + 1)) || 0, body: out.slice(0, nl), stderr: err });
    });
  });
}

/**
 * A TCP client through the explicit proxy's CONNECT (what a database driver behind
 * https_proxy-style tunnelling does): sends `lines`, collects what comes back until the
 * answers are in or the tunnel closes.
 */
export function tcpViaConnect(proxyPort: number, target: string, lines: string[]): Promise<{ connectStatus: string; received: string[]; closedEarly: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    let buf = '';
    let status = '';
    let done = false;
    const finish = (closedEarly: boolean): void => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ connectStatus: status, received: buf.split('\n').filter((l) => l !== ''), closedEarly });
    };
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (status === '') {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        status = buf.slice(0, buf.indexOf('\r\n'));
        buf = buf.slice(end + 4);
        for (const l of lines) s.write(`${l}\n`);
      }
      if (buf.split('\n').filter((l) => l !== '').length >= lines.length) finish(false);
    });
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
  });
}
