// jwtgate/axios: a TokenSession's behaviour for an axios instance. Every request to an origin
// the session sends its token to carries a fresh access token; a 401 answer causes one refresh
// and one retry of that request.
const SENT = 'jwtgateToken';
const RETRIED = 'jwtgateRetried';
const SIGN_OUTS = 'jwtgateSignOuts';

/** Attaches `session` to `instance`; returns a function that detaches it. */
export function attachAxios(session, instance) {
  if (['accessToken', 'tokenRejected', 'sendsTokenTo'].some((m) => typeof session?.[m] !== 'function')) {
    throw new TypeError('attachAxios needs a TokenSession');
  }
  if (!instance?.interceptors?.request || !instance.interceptors.response) {
    throw new TypeError('attachAxios needs an axios instance');
  }
  // Where axios sends `config`: the full URL its adapters build (baseURL, url, params), which
  // the session resolves as XHR and fetch do, against the document's base URL.
  const goesTo = (config) => session.sendsTokenTo(typeof instance.getUri === 'function' ? instance.getUri(config) : config.url);
  // Interceptors registered before attachAxios run after ours (axios runs request
  // interceptors last first), and may move the request to another origin once the token is
  // on it. This runs in axios's dispatch, after every interceptor, on the config the adapter
  // gets: the token comes off if the request no longer goes where the token may.
  function recheck(data, headers) {
    if (SENT in this && headers?.get?.('Authorization') === `Bearer ${this[SENT]}` && !goesTo(this)) {
      headers.delete('Authorization');
      delete this[SENT];
    }
    return data;
  }
  // The session's sign-outs so far: a request that was out when the session was cleared is not
  // sent again (its 401 is the answer), as it would be with the token of the next sign-in.
  let signOuts = 0;
  const signedOut = () => (signOuts += 1);
  session.addEventListener?.('cleared', signedOut);
  const request = instance.interceptors.request.use(async (config) => {
    // Another origin's API gets the request as it is: the token is not for it.
    if (!goesTo(config)) return config;
    const token = await tokenFor(session, config);
    // Cancelled while waiting: axios refuses the request itself, with its own CanceledError.
    if (token === null) return config;
    config[SENT] = token;
    config[SIGN_OUTS] = signOuts;
    config.headers.set('Authorization', `Bearer ${token}`);
    const transforms = [].concat(config.transformRequest ?? []);
    if (!transforms.includes(recheck)) config.transformRequest = [...transforms, recheck];
    return config;
  });
  const response = instance.interceptors.response.use(undefined, (error) => {
    const config = error?.config;
    if (error?.response?.status !== 401 || !config || config[RETRIED] || !(SENT in config) || config[SIGN_OUTS] !== signOuts) throw error;
    session.tokenRejected(config[SENT]);
    config[RETRIED] = true;
    // Through the instance again, so the request interceptor sets the new token.
    return instance.request(config);
  });
  return () => {
    session.removeEventListener?.('cleared', signedOut);
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}

/**
 * The session's token, waited for no longer than the request would be: null once its `signal`
 * aborts or its `cancelToken` fires; after its `timeout`, the error axios gives a timeout.
 */
function tokenFor(session, config) {
  const { signal, cancelToken, timeout } = config;
  // Tells the session this request stopped waiting, so that it does not keep the wait.
  const done = new AbortController();
  return new Promise((resolve, reject) => {
    let timer;
    const settle = (f) => (value) => {
      clearTimeout(timer);
      signal?.removeEventListener?.('abort', cancelled);
      done.abort();
      f(value);
    };
    const cancelled = settle(() => resolve(null));
    if (signal?.aborted || cancelToken?.reason) return cancelled();
    signal?.addEventListener?.('abort', cancelled, { once: true });
    cancelToken?.promise?.then(cancelled, () => {});
    if (timeout > 0) {
      timer = setTimeout(() => {
        const error = new Error(config.timeoutErrorMessage || `timeout of ${timeout}ms exceeded`);
        Object.assign(error, {
          name: 'AxiosError',
          code: config.transitional?.clarifyTimeoutError ? 'ETIMEDOUT' : 'ECONNABORTED',
          config,
          isAxiosError: true,
        });
        settle(reject)(error);
      }, timeout);
    }
    session.accessToken(done.signal).then(settle(resolve), settle(reject));
  });
}
