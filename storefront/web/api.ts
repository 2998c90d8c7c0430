import { createClient, type Client } from 'graphql-ws';

/** A GraphQL error as the gateway sends it: a message and a stable code. */
export class ApiError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

interface SessionAnswer {
  readonly userId: string;
  readonly token: string;
  readonly expiresAt: string;
}

/** Asks for a new token this long before the current one ends. */
const RENEW_BEFORE_MS = 120_000;

/**
 * The signed-in shopper: the shop's backend (POST /session) mints their token, as a real shop's
 * login would; the page renews it before it expires.
 */
export class Session {
  private answer: SessionAnswer;
  private renewing: Promise<SessionAnswer> | undefined;

  private constructor(answer: SessionAnswer) {
    this.answer = answer;
  }

  /** Signs in as a picker customer, or as a new visitor when `customerId` is undefined. */
  static async open(customerId: string | undefined): Promise<Session> {
    return new Session(await Session.request(customerId));
  }

  get userId(): string {
    return this.answer.userId;
  }

  async token(): Promise<string> {
    if (Date.parse(this.answer.expiresAt) - Date.now() > RENEW_BEFORE_MS) return this.answer.token;
    this.renewing ??= Session.request(this.answer.userId).finally(() => {
      this.renewing = undefined;
    });
    this.answer = await this.renewing;
    return this.answer.token;
  }

  private static async request(customerId: string | undefined): Promise<SessionAnswer> {
    const response = await fetch('/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(customerId === undefined ? {} : { customerId }),
    });
    const body = (await response.json()) as SessionAnswer & { code?: string; message?: string };
    if (!response.ok) throw new ApiError(body.message ?? `sign-in failed (${response.status})`, body.code ?? 'SIGN_IN_FAILED');
    return body;
  }
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** The first retry waits about this long, doubling up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 300;
const RETRY_MAX_MS = 5_000;

/** GraphQL over HTTP and WebSocket to the gateway, as the signed-in shopper. */
export class Api {
  readonly session: Session;
  private readonly httpUrl: string;
  readonly live: Client;

  constructor(gatewayUrl: string, session: Session, onState: (state: LiveState) => void) {
    this.session = session;
    this.httpUrl = gatewayUrl;
    let connectedOnce = false;
    let closed = false;
    this.live = createClient({
      url: gatewayUrl.replace(/^http/, 'ws'),
      // called on every (re)connection, so a renewed token is used after a long outage
      connectionParams: async () => ({ authorization: `Bearer ${await session.token()}` }),
      lazy: false,
      // a storefront stays open for hours: it keeps trying for as long as the page is open, and
      // on each retry graphql-ws sends every subscription's payload again, as it is then
      // (the widgets keep their sinceVersion / sinceChangedAt there, so they catch up)
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => !closed,
      retryWait: async (retries) => {
        const wait = Math.min(RETRY_FIRST_MS * 2 ** retries, RETRY_MAX_MS);
        await new Promise((resolve) => setTimeout(resolve, wait / 2 + Math.random() * (wait / 2)));
      },
      keepAlive: 15_000,
      onNonLazyError: () => undefined,
      on: {
        connecting: () => onState(connectedOnce ? 'reconnecting' : 'connecting'),
        connected: () => {
          connectedOnce = true;
          onState('live');
        },
        closed: () => {
          if (!closed) onState('reconnecting');
        },
      },
    });
    const dispose = this.live.dispose.bind(this.live);
    this.live.dispose = () => {
      closed = true;
      return dispose();
    };
  }

  async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(this.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.session.token()}` },
      body: JSON.stringify({ query, variables }),
    });
    let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new ApiError(`the gateway answered ${response.status}`, response.status === 429 ? 'RATE_LIMITED' : 'SERVICE_UNAVAILABLE');
    }
    const error = body.errors?.[0];
    if (error !== undefined) throw new ApiError(error.message, error.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
    if (body.data == null) throw new ApiError(`the gateway answered ${response.status} without data`, 'SERVICE_UNAVAILABLE');
    return body.data;
  }

  /**
   * A live subscription. `variables` is sent again as it is at each reconnection: a widget
   * updates its resume marker in it (sinceVersion, sinceChangedAt) as results come.
   */
  subscribe<T>(query: string, variables: Record<string, unknown>, next: (data: T) => void, error: (error: ApiError) => void): () => void {
    return this.live.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          const first = result.errors?.[0];
          if (first !== undefined) error(new ApiError(first.message, String(first.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR')));
          else if (result.data != null) next(result.data as T);
        },
        error: (reason) => {
          const first = Array.isArray(reason) ? (reason[0] as { message?: string; extensions?: { code?: string } } | undefined) : undefined;
          error(new ApiError(first?.message ?? 'the live connection failed', first?.extensions?.code ?? 'SERVICE_UNAVAILABLE'));
        },
        complete: () => undefined,
      },
    );
  }

  close(): void {
    void this.live.dispose();
  }
}
