// Node's own llhttp binding (the parser node:http uses), reached through `_http_common`.
// A proven parser, not a hand-written one: strict on conflicting Content-Length /
// Transfer-Encoding, bad chunking, obs-fold and invalid header bytes, as node:http is.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number, headersTimeout?: number): void;
  execute(data: Buffer): number | (Error & { code?: string; reason?: string; bytesParsed?: number });
  finish(): undefined | (Error & { code?: string });
  close(): void;
  free(): void;
  remove(): void;
  pause(): void;
  resume(): void;
  consume(handle: object): void;
  unconsume(): void;
  getCurrentBuffer(): Buffer;
  [key: number]: unknown;
}

interface LlhttpConstructor {
  new (): LlhttpParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
  readonly kOnTimeout: number;
  readonly kLenientNone: number;
}

const common = require('_http_common') as { HTTPParser: LlhttpConstructor; methods: string[] };

export const HTTPParser: LlhttpConstructor = common.HTTPParser;
/** Method index (as llhttp reports it) → name. */
export const METHODS: readonly string[] = common.methods;
export const kOnHeaders = HTTPParser.kOnHeaders;
export const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
export const kOnBody = HTTPParser.kOnBody;
export const kOnMessageComplete = HTTPParser.kOnMessageComplete;
export const kOnMessageBegin = HTTPParser.kOnMessageBegin;
export const kOnExecute = HTTPParser.kOnExecute;
