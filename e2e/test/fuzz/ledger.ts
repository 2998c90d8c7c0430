import { expect1, literalSafe, type Caller, type Expectation, type ModelEvent, type Mode, type SentEvent } from './events.ts';
import { codesOf, graphqlBody, post, responseProblems, toLiteral, type WireResponse } from './http.ts';

/** A contract violation seen by the fuzz run, with what reproduces it. */
export interface Violation {
  readonly kind: string;
  readonly detail: string;
  readonly repro: string;
}

export const keyOf = (userId: string, eventId: string) => JSON.stringify([userId, eventId]);

/**
 * The model of what the API accepted: every event it took, by (userId, eventId) (idempotency
 * is per user), and those it took without an id. A call whose outcome the model cannot know
 * (it failed in a way the contract does not allow) marks its events uncertain, so one defect is
 * reported once and not again by every later comparison.
 */
export class Ledger {
  readonly stored = new Map<string, ModelEvent & { eventId: string }>();
  /** Accepted with a generated id that the answer did not tell (trackEvents). */
  readonly generated: ModelEvent[] = [];
  readonly uncertainKeys = new Set<string>();
  readonly uncertainUsers = new Set<string>();
  readonly uncertainProducts = new Set<string>();
  /** Tracking calls sent, and the events in them (for the run's summary). */
  calls = 0;
  sent = 0;

  markUncertain(events: readonly ModelEvent[]): void {
    for (const event of events) {
      if (event.eventId !== undefined) this.uncertainKeys.add(keyOf(event.userId, event.eventId));
      if (typeof event.userId === 'string') this.uncertainUsers.add(event.userId);
      if (typeof event.productId === 'string') this.uncertainProducts.add(event.productId);
    }
  }

  /** All accepted events (keyed and generated) of certain users. */
  all(): ModelEvent[] {
    return [...this.stored.values(), ...this.generated];
  }
}

export interface TrackCall {
  readonly caller: Caller;
  readonly authorization: string | undefined;
  readonly events: readonly SentEvent[];
  readonly mode: Mode;
  /** trackEvent (one input) rather than trackEvents. */
  readonly single: boolean;
}

const PAYLOAD = 'accepted duplicates rejected { index code message }';

function request(call: TrackCall): { query: string; variables?: Record<string, unknown> } {
  const literal = call.mode === 'literal' && call.events.every((event) => literalSafe(event['metadata']));
  if (call.single) {
    return literal
      ? { query: `mutation { trackEvent(input: ${toLiteral(call.events[0], new Set(['type']))}) { eventId duplicate } }` }
      : { query: 'mutation Track($e: TrackEventInput!) { trackEvent(input: $e) { eventId duplicate } }', variables: { e: call.events[0] } };
  }
  return literal
    ? { query: `mutation { trackEvents(inputs: ${toLiteral(call.events, new Set(['type']))}) { ${PAYLOAD} } }` }
    : { query: `mutation Track($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { ${PAYLOAD} } }`, variables: { e: call.events } };
}

export function describeCall(call: TrackCall): string {
  const { query, variables } = request(call);
  const who =
    call.caller.kind === 'user' ? `user ${call.caller.subject}` : call.caller.kind === 'forged' ? `forged token "${call.caller.name}"` : call.caller.kind;
  return `as ${who}: ${graphqlBody(query, variables).slice(0, 1_500)}`;
}

/**
 * Sends one trackEvent(s) call and checks the answer against the model; records what was
 * accepted. Returns the violations found.
 */
export async function track(url: string, ledger: Ledger, call: TrackCall): Promise<Violation[]> {
  const { query, variables } = request(call);
  const mode: Mode = variables === undefined ? 'literal' : 'variables';
  const now = Date.now();
  const expectations = call.events.map((event) => expect1(event, call.caller, mode, now));
  const violations: Violation[] = [];
  const repro = describeCall(call);
  ledger.calls++;
  ledger.sent += call.events.length;
  const violation = (kind: string, detail: string) => violations.push({ kind, detail, repro });

  let response: WireResponse;
  if (process.env['FUZZ_TRACE'] !== undefined)
    (await import('node:fs')).appendFileSync(process.env['FUZZ_TRACE'], `${new Date().toISOString()} ${repro.slice(0, 3000)}\n`);
  try {
    response = await post(url, graphqlBody(query, variables), call.authorization === undefined ? {} : { authorization: call.authorization });
  } catch (error) {
    violation('transport failure', String(error));
    ledger.markUncertain(expectations.map((e) => e.event));
    return violations;
  }
  for (const problem of responseProblems(response)) violation(problem.startsWith('HTTP') ? 'HTTP 5xx' : 'uncoded or internal error', problem);

  const codes = codesOf(response);
  const payload = response.body?.data?.[call.single ? 'trackEvent' : 'trackEvents'] as Record<string, any> | null | undefined;
  const refusedWhole = (allowed: readonly string[], why: string) => {
    if (payload != null) {
      violation('accepted a call the contract refuses', `${why}; got ${JSON.stringify(response.body).slice(0, 300)}`);
      ledger.markUncertain(expectations.map((e) => e.event));
    } else if (!codes.some((code) => allowed.includes(String(code)))) {
      violation('wrong error for a refused call', `${why}: expected ${allowed.join('/')}, got HTTP ${response.status} ${JSON.stringify(codes)}`);
    }
  };

  if (call.caller.kind === 'forged') {
    if (response.status !== 401) violation('forged token not refused with 401', `HTTP ${response.status} ${JSON.stringify(codes)}`);
    refusedWhole(['UNAUTHENTICATED'], 'a forged token');
    return violations;
  }
  const coercion = expectations.some((e) => e.coercion === 'fail') ? 'fail' : expectations.some((e) => e.coercion === 'maybe') ? 'maybe' : 'ok';
  if (coercion === 'fail') {
    refusedWhole(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED'], 'an input the schema refuses');
    return violations;
  }
  if (
    payload == null &&
    coercion === 'maybe' &&
    codes.length > 0 &&
    codes.every((c) => c === 'BAD_USER_INPUT' || c === 'GRAPHQL_VALIDATION_FAILED' || c === 'GRAPHQL_PARSE_FAILED')
  ) {
    return violations; // refused as an input value: allowed for these
  }
  if (call.caller.kind === 'anonymous') {
    refusedWhole(['UNAUTHENTICATED'], 'anonymous tracking');
    return violations;
  }
  if (!call.single && call.events.length > 1_000) {
    refusedWhole(['BAD_USER_INPUT'], 'a batch over 1,000');
    return violations;
  }

  if (call.single) {
    checkSingle(ledger, expectations[0]!, response, payload, violation);
    return violations;
  }

  if (payload == null) {
    violation(
      'refused a whole batch',
      `HTTP ${response.status} ${JSON.stringify(response.body?.errors?.map((e) => [e.extensions?.['code'], e.message.slice(0, 120)]))}`,
    );
    ledger.markUncertain(expectations.map((e) => e.event));
    return violations;
  }
  const rejected = new Map<number, string>();
  for (const r of payload['rejected'] as { index: number; code: string }[]) {
    if (rejected.has(r.index) || r.index < 0 || r.index >= call.events.length) violation('bad rejected index', JSON.stringify(r));
    rejected.set(r.index, r.code);
  }
  let fresh = 0;
  let duplicates = 0;
  const taken: ModelEvent[] = [];
  const seen = new Set<string>();
  let outOfContract = false;
  expectations.forEach((expectation, index) => {
    const code = rejected.get(index);
    if (code !== undefined) {
      if (!expectation.outcomes.has(code as never)) {
        outOfContract = true;
        violation(
          expectation.outcomes.has('ACCEPT') ? 'refused a valid event' : 'wrong rejection code',
          `event ${index} refused with ${code}; contract allows ${[...expectation.outcomes].join('/')}`,
        );
      }
      return;
    }
    if (!expectation.outcomes.has('ACCEPT')) {
      outOfContract = true;
      violation('accepted an invalid event', `event ${index} accepted; contract requires ${[...expectation.outcomes].join('/')}`);
    }
    const { event } = expectation;
    if (event.eventId === undefined) {
      fresh++;
      taken.push(event);
      return;
    }
    const key = keyOf(event.userId, event.eventId);
    if (ledger.stored.has(key) || seen.has(key)) duplicates++;
    else {
      fresh++;
      seen.add(key);
      taken.push(event);
    }
  });
  if (payload['accepted'] !== fresh || payload['duplicates'] !== duplicates) {
    violation(
      'accepted/duplicates counts differ from the model (idempotency per (userId, eventId))',
      `API accepted ${payload['accepted']} duplicates ${payload['duplicates']}; model ${fresh} and ${duplicates}`,
    );
    ledger.markUncertain(expectations.map((e) => e.event));
    return violations;
  }
  if (outOfContract) ledger.markUncertain(taken);
  for (const event of taken) {
    if (event.eventId === undefined) ledger.generated.push(event);
    else ledger.stored.set(keyOf(event.userId, event.eventId), event as ModelEvent & { eventId: string });
  }
  return violations;
}

function checkSingle(
  ledger: Ledger,
  expectation: Expectation,
  response: WireResponse,
  payload: Record<string, any> | null | undefined,
  violation: (kind: string, detail: string) => void,
): void {
  const { event } = expectation;
  if (payload == null) {
    const error = response.body?.errors?.[0];
    const code = error?.extensions?.['code'];
    const reason = code === 'FORBIDDEN' ? 'FORBIDDEN' : code === 'BAD_USER_INPUT' ? error?.extensions?.['reason'] : undefined;
    if (typeof reason !== 'string' || !expectation.outcomes.has(reason as never)) {
      violation(
        expectation.outcomes.has('ACCEPT') ? 'refused a valid event' : 'wrong error for a refused event',
        `got ${JSON.stringify(code)} reason ${JSON.stringify(reason)}; contract allows ${[...expectation.outcomes].join('/')}`,
      );
      if (code !== 'BAD_USER_INPUT' && code !== 'FORBIDDEN') ledger.markUncertain([event]);
    }
    return;
  }
  if (!expectation.outcomes.has('ACCEPT')) {
    violation('accepted an invalid event', `accepted; contract requires ${[...expectation.outcomes].join('/')}`);
    ledger.markUncertain([event]);
  }
  const eventId = String(payload['eventId']);
  if (event.eventId !== undefined && eventId !== event.eventId)
    violation('trackEvent answered another eventId', `${JSON.stringify(eventId)} for ${JSON.stringify(event.eventId)}`);
  const key = keyOf(event.userId, eventId);
  const duplicate = ledger.stored.has(key);
  if (payload['duplicate'] !== duplicate) {
    violation('duplicate flag differs from the model (idempotency per (userId, eventId))', `API duplicate ${payload['duplicate']}, model ${duplicate}`);
    ledger.markUncertain([{ ...event, eventId }]);
    return;
  }
  if (!duplicate) ledger.stored.set(key, { ...event, eventId });
}
