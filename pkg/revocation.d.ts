import type { Claims } from './jwtgate.js';

export interface RevocationOptions {
  /** How long an answer from the store is kept locally, in seconds (default 5, at most 300). */
  cacheSeconds?: number;
  /** How many answers are kept locally (default 1000, at most 100000; 0 turns the cache off). */
  cacheSize?: number;
  /** Put before the jti in the store's key (default `revoked:`). */
  prefix?: string;
  /** The longest a store call may take, in seconds (default 2, at most 2147483, what setTimeout can hold); then it has failed. */
  timeoutSeconds?: number;
}

/** A deny list of `jti`s: `revoked` for a verifier's option, `revoke` to add a token. */
export interface Revocation {
  /** Whether the jti is revoked; rejects when the store cannot say (the verifier then refuses, 503). */
  revoked(jti: string, claims?: Claims): Promise<boolean>;
  /** Revokes a token until its `exp`: pass its claims, or its jti and exp. */
  revoke(claims: Claims): Promise<void>;
  revoke(jti: string, exp: number): Promise<void>;
}

/** What kvRevocation needs of a Workers KV namespace. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expiration?: number }): Promise<void>;
}

/** A Redis client: node-redis (v4 or later, `sendCommand`) or ioredis (`call`). */
export type RedisClientLike = { sendCommand(args: string[]): Promise<unknown> } | { call(...args: string[]): Promise<unknown> };

/** A deny list in a Workers KV namespace, each entry expiring at the token's `exp`. */
export function kvRevocation(namespace: KvNamespaceLike, options?: RevocationOptions): Revocation;

/** A deny list in Redis (6.2 or later), each entry expiring at the token's `exp` (`SET … EXAT`). */
export function redisRevocation(client: RedisClientLike, options?: RevocationOptions): Revocation;
