/**
 * When a client token expires: its `exp` claim, in epoch milliseconds. Only for a token that has
 * been verified already (the signature is not checked here); undefined when it has no `exp`.
 */
export function tokenExpiry(authorization: string): number | undefined {
  const payload = authorization
    .replace(/^Bearer\s+/i, '')
    .trim()
    .split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** setTimeout's longest delay (about 24.8 days); a longer one would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Calls `run` at `at` (epoch ms), however far away; returns a function that cancels it. The timer
 * does not keep the process alive.
 */
export function runAt(at: number, run: () => void, now: () => number = Date.now): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const delay = at - now();
    if (delay <= 0) {
      timer = undefined;
      run();
      return;
    }
    timer = setTimeout(arm, Math.min(delay, MAX_DELAY_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
