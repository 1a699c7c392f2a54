import type { TokenSession } from './jwtgate.js';

/** The parts of an axios instance `attachAxios` uses. */
export interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: any) => any): number; eject(id: number): void };
    response: { use(onFulfilled: undefined, onRejected: (error: any) => any): number; eject(id: number): void };
  };
  request(config: any): Promise<any>;
}

/**
 * Gives an axios instance the session's behaviour: a fresh access token on every request, and
 * one refresh and one retry after a 401. Returns a function that detaches it.
 */
export function attachAxios(session: TokenSession, instance: AxiosLike): () => void;
