#!/usr/bin/env node
// A TCP client behind an explicit proxy, as a database driver tunnels: CONNECT host:port,
// then one line per argument, printing the answers.
// Usage: node tcp-client.mjs PROXY_PORT HOST:PORT LINE...
import { connect } from 'node:net';

const [proxyPort, target, ...lines] = process.argv.slice(2);
const s = connect(Number(proxyPort), '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
let buf = '';
let open = false;
s.on('data', (d) => {
  buf += d;
  if (!open) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    process.stdout.write(`${buf.slice(0, buf.indexOf('\r\n'))}\n`);
    buf = buf.slice(end + 4);
    open = true;
    for (const l of lines) s.write(`${l}\n`);
  }
  if (buf.split('\n').length > lines.length) { process.stdout.write(buf); s.end(); }
});
s.on('close', () => { if (!open || buf.split('\n').length <= lines.length) process.stdout.write('(tunnel closed)\n'); });
s.on('error', () => {});
setTimeout(() => s.destroy(), 5000).unref();
