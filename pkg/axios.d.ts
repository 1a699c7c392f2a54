import type { TokenSession } from './jwtgate.js';

/** The parts of an axios instance `attachAxios` uses. */
export interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: any) => any): number; eject(id: number): void };
    response: { use(onFulfilled: undefined, onRejected: (error: any) => any): number; eject(id: number): void };
  };
  request(config: any): Promise<any>;
  /** The request's full URL; without it, `config.url` decides where the token may go. */
  getUri?(config?: any): string;
}

/**
 * Gives an axios instance the session's behaviour: a fresh access token on every request to an
 * origin the session sends it to (`session.sendsTokenTo`), and one refresh and one retry after
 * a 401. A request waiting for a refresh or a sign-in honours its `signal`, `cancelToken` and
 * `timeout` (rejecting as axios does: a CanceledError, or ECONNABORTED/ETIMEDOUT). Requests to
 * other origins go out as they are. The URL is axios's own (`getUri`), checked again at
 * dispatch: an interceptor registered before this one (axios runs it after) that moves the
 * request to another origin takes the token off it. Returns a function that detaches it.
 */
export function attachAxios(session: TokenSession, instance: AxiosLike): () => void;
