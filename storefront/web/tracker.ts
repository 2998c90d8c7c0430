import type { Api } from './api.ts';

export type EventType = 'VIEW' | 'CLICK' | 'ADD_TO_CART' | 'REMOVE_FROM_CART' | 'PURCHASE';

export interface TrackedEvent {
  readonly productId: string;
  readonly type: EventType;
  readonly quantity?: number;
  readonly price?: number;
  readonly metadata?: Record<string, string>;
  /** The served list it came from (CLICK, ADD_TO_CART, PURCHASE only). */
  readonly recommendationId?: string;
}

/** Events sent together at most; the API takes 1,000. */
const BATCH = 100;
/** Events waiting at most; older ones are dropped past it (a page left offline for hours). */
const MAX_WAITING = 1_000;
/** Clicks are gathered this long before they are sent (purchases go at once). */
const GATHER_MS = 150;

interface Waiting extends TrackedEvent {
  readonly eventId: string;
  readonly occurredAt: string;
}

/** The browsing session of this tab: one id for as long as the tab lives. */
function tabSession(): string {
  const key = 'recs-demo.session';
  let id = sessionStorage.getItem(key);
  if (id === null) {
    id = crypto.randomUUID();
    sessionStorage.setItem(key, id);
  }
  return id;
}

/**
 * Every click of the page, sent with trackEvents: each event has its own eventId, so a batch
 * retried after a failure is counted once; events wait (in order) while the gateway is away.
 */
export class Tracker {
  private readonly api: Api;
  private readonly sessionId = tabSession();
  private readonly waiting: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  private failures = 0;
  private readonly listeners: ((events: readonly TrackedEvent[]) => void)[] = [];

  constructor(api: Api) {
    this.api = api;
  }

  /** Called with each batch once the gateway stored it. */
  onStored(listener: (events: readonly TrackedEvent[]) => void): void {
    this.listeners.push(listener);
  }

  track(event: TrackedEvent): void {
    this.waiting.push({ ...event, eventId: crypto.randomUUID(), occurredAt: new Date().toISOString() });
    if (this.waiting.length > MAX_WAITING) this.waiting.splice(0, this.waiting.length - MAX_WAITING);
    this.schedule(event.type === 'PURCHASE' || event.type === 'VIEW' ? 0 : GATHER_MS);
  }

  private schedule(delay: number): void {
    if (this.timer !== undefined || this.sending) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private async flush(): Promise<void> {
    if (this.waiting.length === 0) return;
    this.sending = true;
    const batch = this.waiting.slice(0, BATCH);
    try {
      const inputs = batch.map((event) => ({ ...event, userId: this.api.session.userId, sessionId: this.sessionId }));
      const { trackEvents } = await this.api.query<{ trackEvents: { rejected: { index: number; code: string; message: string }[] } }>(
        'mutation Track($inputs: [TrackEventInput!]!) { trackEvents(inputs: $inputs) { accepted duplicates rejected { index code message } } }',
        { inputs },
      );
      for (const rejected of trackEvents.rejected) console.warn(`event ${rejected.index} refused: ${rejected.code} ${rejected.message}`);
      this.waiting.splice(0, batch.length);
      this.failures = 0;
      for (const listener of this.listeners) listener(batch);
    } catch (error) {
      // kept, with the same eventIds: the retry stores what the failed call did not
      this.failures++;
      console.warn(`tracking failed, retrying: ${(error as Error).message}`);
    } finally {
      this.sending = false;
    }
    if (this.waiting.length > 0) this.schedule(this.failures === 0 ? 0 : Math.min(500 * 2 ** this.failures, 10_000));
  }
}
