// Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each, keeps them all open
// and idle for HOLD seconds, then exits. bench/run.sh samples the contestant's RSS meanwhile:
// the memory of N idle keep-alive connections (as opposed to N busy ones under wrk).
// usage: node bench/tools/hold-connections.mjs PORT N HOLD
import net from 'node:net';

const [port, n, hold] = process.argv.slice(2).map(Number);
let answered = 0;
let failed = 0;
const sockets = [];
function open(i) {
  const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n'));
  s.once('data', () => { if (++answered + failed === n) console.log(`answered ${answered}, failed ${failed}`); });
  s.on('error', () => { if (answered + ++failed === n) console.log(`answered ${answered}, failed ${failed}`); });
  sockets.push(s);
  // Open them in small batches: a connect storm only measures the accept queue.
  if (i + 1 < n) setImmediate(open, i + 1);
}
open(0);
setTimeout(() => { for (const s of sockets) s.destroy(); process.exit(0); }, hold * 1000);
