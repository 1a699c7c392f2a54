// The whole package's wasm core (feature `web`): jwtgate/client's loader (client-wasm.js) with
// the verifier's exports (src/web/abi.rs), what wasm-bindgen's glue gave before: RawVerifier,
// checkJwksLength, optionNames, checkOptions, discoveryUrls, discoveredJwksUri, httpAnswer,
// decodeAccepted and checkClaims, their errors thrown here as JwtError or TypeError rather than
// handed back in band. Every string they take is one the package made or checked.
import { asTime, load, start } from './client-wasm.js';
import { answer, raise } from './state.js';

/** Adds the verifier's exports to the client's core (see `loader`). */
export function verifier(core, w, put, take, view) {
  // jwtgate/client's wasm instantiates with the same imports: refused here, not a core whose
  // every verifier fails later with a missing export.
  if (!w.verifier) throw new Error("jwtgate: init() was given jwtgate/client's wasm");
  const verifiers = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((p) => w.verifier_free(p)) : null;
  // Two texts one after another in the input buffer, for `f`; the length of its answer.
  const two = (f, a, b) => {
    const la = put(a);
    return f(la, put(b, la));
  };
  // The core's text answer, its error in band thrown (state.js `answer`); an error or nothing,
  // thrown (`raise`).
  const answered = (len) => answer(take(len));
  const checked = (len) => raise(take(len));

  class RawVerifier {
    #p;
    // The keys' JWKs, each read out of the core once, as the platform imports them.
    #jwks = [];

    constructor(jwks, options) {
      const lj = put(jwks);
      const p = w.verifier(lj, put(options, lj));
      if (p < 0) checked(-1 - p);
      this.#p = p;
      verifiers?.register(this, p);
    }

    publicKey(index) {
      return (this.#jwks[index] ??= take(w.verifier_key(this.#p, index)));
    }

    checkLength(units) {
      return checked(w.verifier_length(this.#p, units));
    }

    prepare(token, now) {
      return answered(w.verifier_prepare(this.#p, put(token), asTime(now)));
    }

    finish(token, verified, now) {
      return answered(w.verifier_finish(this.#p, put(token), verified, asTime(now)));
    }

    candidates(alg, signature) {
      const la = put(alg);
      view(la + signature.length).set(signature, la);
      return answered(w.verifier_candidates(this.#p, la, signature.length));
    }
  }

  Object.assign(core, {
    RawVerifier,
    checkJwksLength: (bytes) => checked(w.jwks_length(bytes)),
    optionNames: () => take(w.option_names()),
    checkOptions: (options) => checked(w.check_options(put(options))),
    discoveryUrls: (issuer) => answered(w.discovery_urls(put(issuer))),
    discoveredJwksUri: (document, issuer) => answered(two(w.discovered_jwks_uri, document, issuer)),
    httpAnswer: (code, realm) => take(two(w.http_answer, code, realm)),
    decodeAccepted: (token) => answered(w.decode_accepted(put(token))),
    checkClaims: (payload, requirements) => checked(two(w.check_claims, payload, requirements)),
  });
}

/** The whole package's core over its compiled wasm `module`, at once (Node, workers). */
export const startFull = (module) => start(module, verifier);

/** The whole package's core over its wasm from `input` (see client-wasm.js `load`). */
export const loadFull = (input) => load(input, 'jwtgate', verifier);
