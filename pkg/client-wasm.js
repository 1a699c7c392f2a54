// The package's wasm cores, called without wasm-bindgen: their exports (src/web/abi.rs) take
// strings as UTF-8 in an input buffer and answer texts in another. What `ready` gives is what
// wasm-bindgen's glue gave: RawSession, checkTokenLength, decode and expiresIn for
// jwtgate/client's wasm, and with verifier-wasm.js the verifier's exports for the whole
// package's, for 2.2 KB gzipped less of the client and 4.4 KB of the whole entry
// (wasm-bindgen's glue and its wasm side).

import { ERROR } from './constants.js';
import { raise } from './state.js';

const encoder = new TextEncoder();

/**
 * A time for the wasm: only a number is one. Anything else goes in as NaN, which the core
 * refuses; passed as it is, '' or false would reach an `f64` parameter as 0, the epoch, at
 * which an expired token verifies.
 */
export const asTime = (now) => (typeof now === 'number' ? now : NaN);

/**
 * A loader for one instance, with state of its own (jwtgate and jwtgate/client may both be
 * loaded): `imports` to instantiate the wasm with, then `ready(instance)` gives its core.
 * `more(core, w, put, take, view)`, when given, adds to the core what a fuller wasm exports.
 */
export function loader(more) {
  let w;
  // The wasm's input buffer: where it is, how long, and a view of it, kept between calls (a
  // new view per string cost `expiresIn` a few percent).
  let inputAt;
  let room = 0;
  let input = new Uint8Array();
  let decoder;
  // Safari's TextDecoder fails after about 2 GB decoded: a new one is made before that (as
  // wasm-bindgen's glue does). Infinity makes the first.
  let decoded = Infinity;

  /** The input buffer, at least `need` bytes long. */
  function view(need) {
    // `room` once `buf` has answered: were it to trap (memory exhausted), the buffer is as
    // long as it was, and a view of `need` bytes would write past its end into the heap.
    if (need > room) {
      inputAt = w.buf(need);
      room = need;
    }
    // Detached (empty) once memory has grown or the buffer moved.
    if (input.byteLength !== room) input = new Uint8Array(w.memory.buffer, inputAt, room);
    return input;
  }

  /** Copies `s` into the input buffer as UTF-8 from byte `from`; its length in bytes. */
  function put(s, from = 0) {
    const units = s.length;
    // One byte a unit if `s` is ASCII (every unit is then read), else up to three.
    for (let need = from + units; ; need = from + 3 * units) {
      const { read, written } = encoder.encodeInto(s, from ? view(need).subarray(from) : view(need));
      if (read === units) return written;
    }
  }

  /** The `len` bytes of UTF-8 at `at` in the wasm's memory, as text. */
  function text(at, len) {
    if ((decoded += len) > 2146435072) {
      decoder = new TextDecoder('utf-8', { ignoreBOM: true });
      decoded = len;
    }
    return decoder.decode(new Uint8Array(w.memory.buffer, at, len));
  }

  /** The text answer of `len` bytes (-1: none). */
  const take = (len) => (len < 0 ? undefined : text(w.at(), len));

  const sessions = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((p) => w.session_free(p)) : null;

  class RawSession {
    #p;

    constructor(ahead) {
      this.#p = w.session(ahead);
      sessions?.register(this, this.#p, this);
    }

    // Operation `op` of the core (src/web/session.rs; the numbers are in constants.js): its
    // answer, or the error the core kept for a NaN, thrown.
    op(op, epoch, now, a, b, c, at = 0) {
      const la = put(a ?? '');
      const lb = put(b ?? '', la);
      const answer = w.session_op(this.#p, op, epoch, now, at, la, lb, c == null ? -1 : put(c, la + lb));
      if (answer !== answer) raise(this.text(ERROR));
      return answer;
    }

    text(which) {
      return take(w.session_text(this.#p, which));
    }

    free() {
      sessions?.unregister(this);
      w.session_free(this.#p);
      this.#p = 0;
    }
  }

  const core = {
    RawSession,
    checkTokenLength: (units) => take(w.check(units)),
    decode: (token) => take(w.decode(put(token))),
    expiresIn: (token, now) => w.expires(put(token), now),
  };

  return {
    /**
     * What the wasm imports: the engine's `Number` over a JSON number's text, which the core's
     * parser checked (numbers past its fast path; `JSON.parse` gives the app the same value).
     */
    imports: { jwtgate: { number: (at, len) => Number(text(at, len)) } },
    /** The core over an instance of the wasm, made with `imports`. */
    ready(instance) {
      w = instance.exports;
      more?.(core, w, put, take, view);
      return core;
    },
  };
}

/** The core over a compiled wasm `module`, at once (Node, workers). */
export function start(module, more) {
  const { imports, ready } = loader(more);
  return ready(new WebAssembly.Instance(module, imports));
}

/**
 * The core over the wasm from `input`: a URL, a Request, a Response, bytes or a
 * WebAssembly.Module; `what` names it in a failed fetch's error.
 */
export async function load(input, what, more) {
  const { imports, ready } = loader(more);
  return ready(await instantiate(input, imports, what));
}

async function instantiate(input, imports, what) {
  if (typeof input === 'string' || input instanceof URL || (typeof Request === 'function' && input instanceof Request)) {
    input = fetch(input);
  }
  input = await input;
  if (typeof Response === 'function' && input instanceof Response) {
    if (!input.ok) throw new Error(`failed to fetch the ${what} wasm: ${input.status} ${input.statusText} fetching '${input.url}'`);
    // Compiled as it downloads, unless the server does not say application/wasm.
    if (typeof WebAssembly.instantiateStreaming === 'function' && input.headers.get('Content-Type') === 'application/wasm') {
      return (await WebAssembly.instantiateStreaming(input, imports)).instance;
    }
    input = await input.arrayBuffer();
  }
  // A Module instantiates to an Instance, bytes to `{ module, instance }`.
  const made = await WebAssembly.instantiate(input, imports);
  return made.instance ?? made;
}
