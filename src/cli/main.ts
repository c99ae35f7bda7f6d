import { Command, CommanderError } from 'commander';
import { capYoungGeneration } from '../util/young-generation.js';
import { tolerateClosedStdio } from '../util/log.js';

// Before any command module loads: their start-up allocation would grow V8's young generation.
capYoungGeneration();

// Each command's module is imported only when that command runs (all of them for help): a
// gateway process (`sluice run`, and each --concurrency worker) does not carry the modules
// of analyze, trace, test or ca — about 25 MB of RSS.
type Register = (program: Command) => void;
const COMMANDS: Record<string, () => Promise<Register>> = {
  run: async () => (await import('./run.js')).registerRun,
  demo: async () => (await import('./demo.js')).registerDemo,
  trace: async () => (await import('./trace.js')).registerTrace,
  test: async () => (await import('./test.js')).registerTest,
  analyze: async () => (await import('./analyze.js')).registerAnalyze,
  'proxy-config': async () => (await import('./proxy-config.js')).registerProxyConfig,
  'proxy-status': async () => (await import('./proxy-status.js')).registerProxyStatus,
  ca: async () => (await import('./ca.js')).registerCa,
};

tolerateClosedStdio();
const program = new Command();
program.exitOverride();
program
  .name('sluice')
  .description('An Istio-compatible ingress gateway, egress gateway and mesh proxy')
  .showHelpAfterError();

const wanted = process.argv[2];
for (const name of wanted !== undefined && wanted in COMMANDS ? [wanted] : Object.keys(COMMANDS)) (await COMMANDS[name]!())(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`sluice: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
