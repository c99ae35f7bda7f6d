#!/usr/bin/env node
// Stand-ins for the external services of the seed's Part 2, on loopback:
//   httpbin.external-service.com   plain HTTP          127.0.0.1:9080
//   api.external-service.com       HTTPS (test CA)     127.0.0.1:9443
//   *.googleapis.com               HTTPS (test CA)     127.0.0.1:9444
//   db.external-service.com        TCP "database"      127.0.0.1:9432
// HTTP(S) servers answer with JSON saying who they are and what they saw, including the
// client address (the egress gateway's source address) and the TLS server name. The TCP
// server answers each line with "db: <line>", and "whoami" with the client address.
// Usage: node external-servers.mjs DIR   (DIR receives the test CA: DIR/external-ca.crt)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttp } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp } from 'node:net';
import { join } from 'node:path';

const dir = process.argv[2] ?? './external';
const port = (name, dflt) => Number(process.env[name] ?? dflt);
mkdirSync(dir, { recursive: true });
const ssl = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', '/CN=External Test CA',
  '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'external-ca.key', '-out', 'external-ca.crt']);
function leaf(name, sans) {
  writeFileSync(join(dir, `${name}.cnf`), `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${sans[0]}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'external-ca.crt', '-CAkey', 'external-ca.key', '-CAcreateserial', '-days', '30', '-extfile', `${name}.cnf`, '-out', `${name}.crt`]);
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

function handler(server) {
  return (req, res) => {
    const body = JSON.stringify({ server, method: req.method, path: req.url, host: req.headers.host, sni: req.socket.servername ?? null, remoteAddress: req.socket.remoteAddress, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'x-external-server': server });
    res.end(`${body}\n`);
  };
}

createHttp(handler('httpbin.external-service.com')).listen(port('HTTPBIN_PORT', 9080), '127.0.0.1');
createHttps(leaf('api', ['api.external-service.com']), handler('api.external-service.com')).listen(port('API_PORT', 9443), '127.0.0.1');
createHttps(leaf('googleapis', ['*.googleapis.com', 'googleapis.com']), handler('googleapis.com')).listen(port('GOOGLEAPIS_PORT', 9444), '127.0.0.1');
createTcp((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      s.write(line === 'whoami' ? `db: you are ${s.remoteAddress}\n` : `db: ${line}\n`);
    }
  });
  s.on('error', () => {});
}).listen(port('DB_PORT', 9432), '127.0.0.1');
process.stdout.write(`external servers ready; test CA in ${join(dir, 'external-ca.crt')}\n`);
