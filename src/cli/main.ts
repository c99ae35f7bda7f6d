import { Command, CommanderError } from 'commander';
import { registerAnalyze } from './analyze.js';
import { registerCa } from './ca.js';
import { registerDemo } from './demo.js';
import { registerProxyConfig } from './proxy-config.js';
import { registerProxyStatus } from './proxy-status.js';
import { registerRun } from './run.js';
import { registerTest } from './test.js';
import { registerTrace } from './trace.js';

const program = new Command();
program.exitOverride();
program
  .name('sluice')
  .description('An Istio-compatible ingress gateway, egress gateway and mesh proxy')
  .showHelpAfterError();

registerRun(program);
registerDemo(program);
registerTrace(program);
registerTest(program);
registerAnalyze(program);
registerProxyConfig(program);
registerProxyStatus(program);
registerCa(program);

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
