import type { Duplex } from 'node:stream';
import type { HeaderList } from '../../http/headers.js';
import type { BodySink, DownstreamCodec, HttpStream } from '../../http/stream.js';

/**
 * The request body ext_authz reads before it decides (`includeRequestBodyInCheck`), then hands
 * on to the router as if the codec had just started it: the stream's codec is wrapped so that
 * the router's `startBody` replays what was read and streams the rest (with the codec's own
 * backpressure). Envoy's ext_authz buffers the same way (`with_request_body`).
 */
export class BufferedBody implements BodySink {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  ended = false;
  trailers: HeaderList | null = null;
  readonly #s: HttpStream;
  readonly #inner: DownstreamCodec;
  readonly #max: number;
  /** Called once: the whole body is read, or `max` bytes of it (`partial`). */
  readonly #ready: (partial: boolean) => void;
  #decided = false;
  /** The router's sink once it started the body. */
  #sink: BodySink | null = null;
  /** The router asked the codec to pause (a slow upstream). */
  #routerPaused = false;

  constructor(s: HttpStream, max: number, ready: (partial: boolean) => void) {
    this.#s = s;
    this.#inner = s.codec;
    this.#max = max;
    this.#ready = ready;
  }

  start(): void {
    this.#inner.startBody(this.#s, this);
  }

  /** The body, or its first `max` bytes, as one buffer for the check request. */
  forCheck(): Buffer {
    const b = Buffer.concat(this.chunks);
    return b.length > this.#max ? b.subarray(0, this.#max) : b;
  }

  onData(chunk: Buffer): void {
    if (this.#sink !== null) { this.#sink.onData(chunk); return; }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (!this.#decided && this.bytes > this.#max) {
      // Enough for the check: stop reading until the router wants the rest.
      this.#inner.pauseBody(this.#s);
      this.#decided = true;
      this.#ready(true);
    }
  }

  onEnd(trailers: HeaderList | null): void {
    if (this.#sink !== null) { this.#sink.onEnd(trailers); return; }
    this.ended = true;
    this.trailers = trailers;
    if (!this.#decided) { this.#decided = true; this.#ready(false); }
  }

  onError(err: Error): void {
    this.#sink?.onError(err);
  }

  /** Makes the stream's codec replay the read body to the router, then stream the rest. */
  handOn(): void {
    const s = this.#s;
    const inner = this.#inner;
    const replay: DownstreamCodec = {
      sendHeaders: (st, status, headers, endStream) => inner.sendHeaders(st, status, headers, endStream),
      sendData: (st, chunk) => inner.sendData(st, chunk),
      ...(inner.sendDataLent !== undefined ? { sendDataLent: (st: HttpStream, chunk: Buffer) => inner.sendDataLent!(st, chunk) } : {}),
      sendEnd: (st, trailers) => inner.sendEnd(st, trailers),
      reset: (st) => inner.reset(st),
      startBody: (_st, sink) => {
        this.#sink = sink;
        for (const c of this.chunks.splice(0)) sink.onData(c);
        if (this.ended) sink.onEnd(this.trailers);
        else if (!this.#routerPaused) inner.resumeBody(s);
      },
      pauseBody: (st) => { this.#routerPaused = true; inner.pauseBody(st); },
      resumeBody: (st) => { this.#routerPaused = false; inner.resumeBody(st); },
      takeSocket: (st): { socket: Duplex; head: Buffer } | null => inner.takeSocket(st),
    };
    s.codec = replay;
  }
}
