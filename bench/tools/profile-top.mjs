// Summarises a V8 .cpuprofile: self time per function (top N) and per source area, so a
// profile of the hot path can be read in a terminal and quoted in the README.
// usage: node bench/tools/profile-top.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
const top = Number(nArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
let total = 0;
for (const v of self.values()) total += v;
const fn = new Map();
const area = new Map();
function areaOf(url, name) {
  if (name === '(garbage collector)') return 'gc';
  if (name === '(idle)' || name === '(program)') return name;
  if (url === '') return 'native/builtins';
  const m = /\/src\/([a-z-]+\/[a-z0-9-]+)|\/dist\/([a-z-]+\/[a-z0-9-]+)/.exec(url);
  if (m) return `sluice ${m[1] ?? m[2]}`;
  if (url.includes('node_modules/')) return `dep ${url.split('node_modules/')[1].split('/')[0]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  return 'other';
}
for (const [id, t] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(dist|src|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const a = areaOf(cf.url, cf.functionName);
  area.set(a, (area.get(a) ?? 0) + t);
}
const pct = (t) => `${((t * 100) / total).toFixed(1).padStart(5)}%`;
console.log(`total ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nby area (self time):');
for (const [k, v] of [...area].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${pct(v)}  ${k}`);
console.log(`\ntop ${top} functions (self time):`);
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
