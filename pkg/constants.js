// The package's numeric constants, in a module of their own: esbuild (as apps bundle the
// package) writes a top-level constant in at its uses only when it comes from a module without
// imports, in the run of constants that module starts with. Declared beside their code, each
// stayed a variable in an app's bundle: 0.1 KB gzipped of `jwtgate/client`.

// The Rust core's session (RawSession) exports two methods, `op` and `text`, taking an
// operation's number (src/web/session.rs, whose `op` and `text` modules hold the same numbers):
// a method apiece cost about 0.5 KB of the client's size each. An operation that fails answers
// NaN, and its error is the text ERROR, which the loader's `op` (client-wasm.js) throws.
export const NEXT = 0;
export const EPOCH = 1;
export const SET = 2;
export const REFRESHED = 3;
export const FAILED = 4;
export const SPENT = 5;
export const STILL_NEEDED = 6;
export const REJECTED = 7;
export const ADOPT = 8;
export const RESTORE = 9;
export const CLEAR = 10;
// token.js's: why `expiresIn` answered NaN.
export const EXPIRY = 11;
export const RECEIVED = 12;
export const ACCESS = 0;
export const REFRESH_TOKEN = 1;
export const ERROR = 2;

// NEXT's answers.
export const USE = 0;
export const REFRESH = 1;
export const AUTH_REQUIRED = 3;

// Without Web Locks, tabs elect a refresher: claims within this window compete.
export const ELECTION_MS = 100;
// A tab that lost an election waits this long for the winner's result before it tries again.
export const LOSER_WAIT_MS = 10_000;

// Stored text holds two tokens and a time: it may be this many tokens long, and no longer.
export const STORED_TOKENS = 4;

// A prototype chain deeper than this is no options object but a trap (a Proxy that is its own
// prototype would make the walk endless).
export const MAX_CHAIN = 32;

// setTimeout fires at once for a delay it cannot hold (more than 2^31 - 1 ms).
export const MAX_TIMER_SECONDS = 2147483;

// api.js: the platform keys kept, shared by every verifier; the oldest goes past this.
export const MAX_IMPORTED = 256;
// RemoteVerifier: maxStaleSeconds by default (a day), and at most: keys the issuer may have
// withdrawn a month ago are not keys.
export const MAX_STALE_SECONDS = 86400;
export const MAX_STALE_LIMIT = 30 * 86400;
// Failed fetches are retried after retrySeconds (at most this), doubling with each failure up to this.
export const MAX_RETRY_SECONDS = 30;

// How long `authenticate` waits for a `revoked` function before it counts the store as down
// (503 revocation_unavailable): a deny list that never answers must not hold the request for
// ever. Above the bundled adapters' own default deadline (2 s), so theirs answers first.
export const REVOKED_TIMEOUT_MS = 5000;
