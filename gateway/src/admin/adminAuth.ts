import type { IncomingMessage } from 'node:http';
import { AuthenticationError, isAdmin, type Identity } from '@recs/shared';
import express, { type RequestHandler, type Response, type Router } from 'express';
import { tokenExpiry } from '../subscriptions/expiry.ts';

/** The cookie a browser holds the admin token in (set by the login route, scoped to the board's path). */
export const ADMIN_COOKIE = 'recs_admin';

/** Checks a token as every client token is (signature, issuer, lifetime); throws AuthenticationError. */
export type Authenticate = (authorization: string | undefined) => Promise<Identity>;

/** A cookie's value from the Cookie header (no dependency for one name; values are JWTs, no quoting). */
function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

/** `Authorization: Bearer` wins; a browser sends the cookie instead. */
function authorizationOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined && header !== '') return header;
  const token = cookie(req, ADMIN_COOKIE);
  return token === undefined ? undefined : `Bearer ${token}`;
}

type Verdict = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

async function verdict(authenticate: Authenticate, authorization: string | undefined): Promise<Verdict> {
  if (authorization === undefined) return { ok: false, status: 401, message: 'admin token required' };
  try {
    const identity = await authenticate(authorization);
    if (identity.kind === 'anonymous') return { ok: false, status: 401, message: 'admin token required' };
    return isAdmin(identity) ? { ok: true } : { ok: false, status: 403, message: 'admins only' };
  } catch (error) {
    if (error instanceof AuthenticationError) return { ok: false, status: 401, message: error.message };
    throw error;
  }
}

function refuse(res: Response, status: 401 | 403, message: string, loginPath: string): void {
  if (status === 401) res.setHeader('www-authenticate', 'Bearer');
  res.status(status).type('text/plain').send(`${message} (send Authorization: Bearer <admin token>, or open ${loginPath} in a browser)`);
}

/** Lets through only requests carrying a valid admin token (header or cookie), checked on every request. */
export function requireAdmin(authenticate: Authenticate, loginPath: string): RequestHandler {
  return (req, res, next) => {
    verdict(authenticate, authorizationOf(req)).then((result) => (result.ok ? next() : refuse(res, result.status, result.message, loginPath)), next);
  };
}

const LOGIN_FORM = `<!doctype html>
<html><head><meta charset="utf-8"><title>Queue admin: sign in</title></head>
<body><form method="post"><label>Admin token <input name="token" type="password" autocomplete="off" size="60" autofocus></label>
<button type="submit">Open the queue board</button></form></body></html>`;

/**
 * The browser's way in, with no custom headers: GET `<base>/login?token=…` or the form it serves
 * without one (POST, which keeps the token out of URLs and access logs) checks the token and
 * stores it in an HttpOnly, SameSite=Strict cookie scoped to `<base>`, valid until the token
 * expires, then redirects to the board. The cookie is verified like any token on every request;
 * GET `<base>/logout` clears it.
 */
export function loginRoutes(base: string, authenticate: Authenticate, secure: boolean): Router {
  const router = express.Router();
  const cookieOptions = { httpOnly: true, sameSite: 'strict', path: base, secure } as const;
  const login: RequestHandler = (req, res, next) => {
    const raw: unknown = req.method === 'POST' ? (req.body as Record<string, unknown> | undefined)?.['token'] : req.query['token'];
    const token = typeof raw === 'string' ? raw.replace(/^Bearer\s+/i, '').trim() : '';
    if (token === '') {
      res.type('html').send(LOGIN_FORM);
      return;
    }
    verdict(authenticate, `Bearer ${token}`).then((result) => {
      if (!result.ok) return refuse(res, result.status, result.message, `${base}/login`);
      const expiresAt = tokenExpiry(token);
      res.cookie(ADMIN_COOKIE, token, expiresAt === undefined ? cookieOptions : { ...cookieOptions, expires: new Date(expiresAt) });
      res.setHeader('cache-control', 'no-store');
      res.redirect(303, `${base}/`);
    }, next);
  };
  router.get('/login', login);
  router.post('/login', express.urlencoded({ extended: false, limit: '16kb' }), login);
  router.get('/logout', (_req, res) => {
    res.clearCookie(ADMIN_COOKIE, cookieOptions);
    res.redirect(303, `${base}/login`);
  });
  return router;
}
