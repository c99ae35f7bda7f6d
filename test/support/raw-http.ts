import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** One step of a raw HTTP/1.1 exchange: bytes to send, or received text to wait for. */
export interface RawStep {
  /** Bytes to send (latin1; YAML escapes like \r\n and \x81 give any byte). */
  send?: string;
  /** Send `send` this many times in one write (large headers and bodies). */
  times?: number;
  /** Wait until everything received so far matches this regex (latin1 text). */
  wait?: string;
}

export interface RawResponse {
  status: number;
  /** Header names as received, lower-cased keys for lookups in `headers`. */
  rawHeaders: string[];
  headers: Record<string, string>;
  body: string;
}

export interface RawResult {
  /** Everything received, as latin1 text. */
  text: string;
  /** Responses parsed from `text` in order (1xx included). */
  responses: RawResponse[];
  /** The server closed the connection (before `timeoutMs`). */
  closed: boolean;
}

/**
 * Sends raw bytes to an HTTP/1.1 server and reads what comes back until the server closes,
 * `responses` final responses arrived, or `timeoutMs` passed. Written independently of the
 * codecs under test (a small parser for what a test sends).
 */
export function rawExchange(port: number, steps: RawStep[], o: { tls?: { servername: string; ca?: string }; finalResponses?: number; timeoutMs?: number }): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket: Socket = o.tls !== undefined
      ? tlsConnect({ host: '127.0.0.1', port, servername: o.tls.servername, ...(o.tls.ca !== undefined ? { ca: o.tls.ca } : { rejectUnauthorized: false }), ALPNProtocols: ['http/1.1'] })
      : netConnect({ host: '127.0.0.1', port });
    let text = '';
    let closed = false;
    let step = 0;
    let waiting: RegExp | null = null;
    const methods = requestMethods(steps.map((s) => (s.times !== undefined && s.times > 1 ? '' : (s.send ?? ''))).join(''));
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, responses: parseResponses(text, methods), closed });
    };
    const timer = setTimeout(done, o.timeoutMs ?? 5000);
    const advance = (): void => {
      while (step < steps.length) {
        const st = steps[step]!;
        if (st.wait !== undefined) {
          waiting = new RegExp(st.wait);
          if (!waiting.test(text)) return;
          waiting = null;
        }
        if (st.send !== undefined) socket.write(Buffer.from(st.times !== undefined ? st.send.repeat(st.times) : st.send, 'latin1'));
        step++;
        // Ending with a wait: what was waited for has arrived, the exchange is over.
        if (step === steps.length && st.send === undefined) { done(); return; }
      }
      if (o.finalResponses !== undefined && parseResponses(text, methods).filter((r) => r.status >= 200).length >= o.finalResponses) done();
    };
    socket.on(o.tls !== undefined ? 'secureConnect' : 'connect', advance);
    socket.on('data', (d: Buffer) => { text += d.toString('latin1'); advance(); });
    socket.on('error', (e) => { if (text === '') { clearTimeout(timer); reject(e); } });
    socket.on('close', () => { closed = true; done(); });
  });
}

/** Methods of the requests in `sent`, in order (HEAD responses carry no body). */
function requestMethods(sent: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\r\n)([A-Z]+) \S+ HTTP\/1\.[01]\r\n/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(sent)) !== null) out.push(m[1]!);
  return out;
}

function parseResponses(text: string, methods: string[]): RawResponse[] {
  const out: RawResponse[] = [];
  let pos = 0;
  let req = 0;
  while (pos < text.length) {
    const end = text.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = text.slice(pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (m === null) break;
    const status = Number(m[1]);
    const rawHeaders: string[] = [];
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      const k = l.slice(0, i);
      const v = l.slice(i + 1).trim();
      rawHeaders.push(k, v);
      const lk = k.toLowerCase();
      headers[lk] = headers[lk] === undefined ? v : `${headers[lk]},${v}`;
    }
    pos = end + 4;
    let body = '';
    const noBody = status < 200 || status === 204 || status === 304 || methods[req] === 'HEAD';
    if (!noBody) {
      if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (text.length < pos + n) break;
        body = text.slice(pos, pos + n);
        pos += n;
      } else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
        let p = pos;
        let complete = false;
        for (;;) {
          const le = text.indexOf('\r\n', p);
          if (le < 0) break;
          const size = parseInt(text.slice(p, le), 16);
          if (size === 0) {
            let te: number;
            if (text.startsWith('\r\n', le + 2)) te = le;
            else {
              te = text.indexOf('\r\n\r\n', le + 2);
              if (te < 0) break;
              for (const l of text.slice(le + 2, te).split('\r\n')) {
                const i = l.indexOf(':');
                rawHeaders.push(l.slice(0, i), l.slice(i + 1).trim());
                headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
              }
            }
            p = te + 4;
            complete = true;
            break;
          }
          if (text.length < le + 2 + size + 2) break;
          body += text.slice(le + 2, le + 2 + size);
          p = le + 2 + size + 2;
        }
        if (!complete) break;
        pos = p;
      } else {
        body = text.slice(pos);
        pos = text.length;
      }
    }
    if (status >= 200) req++;
    out.push({ status, rawHeaders, headers, body });
  }
  return out;
}
