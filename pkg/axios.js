// jwtgate/axios: a TokenSession's behaviour for an axios instance. Every request carries a
// fresh access token; a 401 answer causes one refresh and one retry of that request.
const SENT = 'jwtgateToken';
const RETRIED = 'jwtgateRetried';

/** Attaches `session` to `instance`; returns a function that detaches it. */
export function attachAxios(session, instance) {
  if (typeof session?.accessToken !== 'function' || typeof session.tokenRejected !== 'function') {
    throw new TypeError('attachAxios needs a TokenSession');
  }
  if (!instance?.interceptors?.request || !instance.interceptors.response) {
    throw new TypeError('attachAxios needs an axios instance');
  }
  const request = instance.interceptors.request.use(async (config) => {
    const token = await session.accessToken();
    config[SENT] = token;
    config.headers.set('Authorization', `Bearer ${token}`);
    return config;
  });
  const response = instance.interceptors.response.use(undefined, (error) => {
    const config = error?.config;
    if (error?.response?.status !== 401 || !config || config[RETRIED]) throw error;
    session.tokenRejected(config[SENT]);
    config[RETRIED] = true;
    // Through the instance again, so the request interceptor sets the new token.
    return instance.request(config);
  });
  return () => {
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}
