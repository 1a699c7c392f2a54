// jwtgate/client's wasm core, called without wasm-bindgen: its exports (src/web/abi.rs) take
// strings as UTF-8 in an input buffer and answer texts in another. What it gives `setReady` is
// what wasm-bindgen's glue gave: RawSession, checkTokenLength, decode and expiresIn, for 2.2 KB
// gzipped less of what an SPA downloads (wasm-bindgen's glue and its wasm side).

let w;
// The wasm's input buffer: where it is, how long, and a view of it, kept between calls (a new
// view per string cost `expiresIn` a few percent).
let inputAt;
let room = 0;
let input = new Uint8Array();
const encoder = new TextEncoder();
let decoder;
// Safari's TextDecoder fails after about 2 GB decoded: a new one is made before that (as
// wasm-bindgen's glue does). Infinity makes the first.
let decoded = Infinity;

/** Copies `s` into the input buffer as UTF-8 from byte `from`; its length in bytes. */
function put(s, from = 0) {
  const units = s.length;
  // One byte a unit if `s` is ASCII (every unit is then read), else up to three.
  for (let need = from + units; ; need = from + 3 * units) {
    // `room` once `buf` has answered: were it to trap (memory exhausted), the buffer is as
    // long as it was, and a view of `need` bytes would write past its end into the heap.
    if (need > room) {
      inputAt = w.buf(need);
      room = need;
    }
    // Detached (empty) once memory has grown or the buffer moved.
    if (input.byteLength !== room) input = new Uint8Array(w.memory.buffer, inputAt, room);
    const { read, written } = encoder.encodeInto(s, from ? input.subarray(from) : input);
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

/**
 * What the wasm imports: the engine's `Number` over a JSON number's text, which the core's
 * parser checked (numbers past its fast path; `JSON.parse` gives the app the same value).
 */
export const imports = { jwtgate: { number: (at, len) => Number(text(at, len)) } };

const sessions = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((p) => w.session_free(p)) : null;

class RawSession {
  #p;

  constructor(ahead) {
    this.#p = w.session(ahead);
    sessions?.register(this, this.#p, this);
  }

  op(op, epoch, now, at, a, b, c) {
    const la = put(a ?? '');
    const lb = put(b ?? '', la);
    return w.session_op(this.#p, op, epoch, now, at, la, lb, c == null ? -1 : put(c, la + lb));
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

/** The core over an instance of the client's wasm, made with `imports`. */
export function ready(instance) {
  w = instance.exports;
  return core;
}
