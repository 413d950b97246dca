/**
 * Who may connect: the server's `authenticate` hook, run on each `hello` (the `token`
 * travels in `hello.options.token`) before `welcome`, async, under its own deadline. A
 * refusal closes with 4003 (or the code the hook chose) and its reason; a hook that
 * throws or misses its deadline closes with 1011, which clients retry.
 */
import type { TransportKind } from '@vigil/core';
import { CloseCode, type HelloMessage } from '@vigil/protocol';
import type { SchedulerLike } from 'rxjs';

/** Named defaults of the authentication step. */
export const AUTH_DEFAULTS = {
  /** Ms the hook has to decide; within the handshake deadline (5000 ms by default). */
  timeoutMs: 2000,
} as const;

/** Close codes a hook may refuse with: 4003 is final for clients; 4008 and 4009 are retried with backoff. */
export type AuthRejectCode = typeof CloseCode.Unauthorized | typeof CloseCode.ServerFull | typeof CloseCode.RateLimited;

/** What the hook knows about the connection besides the `hello`. */
export interface AuthInfo {
  /** Remote address, `host:port`. */
  readonly remote: string;
  readonly transport: TransportKind;
}

export type AuthResult =
  | {
      readonly ok: true;
      /** The id to know this client by, instead of the one it asked for (at most 256 characters). */
      readonly peerId?: string;
      /** Copied into `peer.meta`. */
      readonly meta?: Readonly<Record<string, unknown>>;
    }
  | {
      readonly ok: false;
      /** Close code sent. Default 4003 (`Unauthorized`). */
      readonly code?: AuthRejectCode;
      /** Reason sent to the client (at most 120 characters are kept). */
      readonly reason: string;
    };

/** The hook: decide from the `hello` (its `options.token`) and the connection. May be async. */
export type Authenticate = (hello: HelloMessage, info: AuthInfo) => AuthResult | Promise<AuthResult>;

/** What the server does with the hook's answer. */
export type AuthOutcome =
  | { readonly ok: true; readonly peerId?: string; readonly meta?: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly code: number; readonly reason: string; readonly kind: 'unauthorized' | 'auth-error' };

const REJECT_CODES: ReadonlySet<number> = new Set([CloseCode.Unauthorized, CloseCode.ServerFull, CloseCode.RateLimited]);

/**
 * Runs `hook` with a deadline of `timeoutMs` on `scheduler`; never rejects. A throw, a
 * malformed answer or the deadline become `{ ok: false, code: 1011, kind: 'auth-error' }`.
 */
export function runAuthenticate(hook: Authenticate, hello: HelloMessage, info: AuthInfo, timeoutMs: number, scheduler: SchedulerLike): Promise<AuthOutcome> {
  return new Promise<AuthOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: AuthOutcome): void => {
      if (settled) return;
      settled = true;
      deadline.unsubscribe();
      resolve(outcome);
    };
    const deadline = scheduler.schedule(() => settle({ ok: false, code: CloseCode.InternalError, reason: 'authentication timed out', kind: 'auth-error' }), timeoutMs);
    const failed = (): void => settle({ ok: false, code: CloseCode.InternalError, reason: 'authentication failed', kind: 'auth-error' });
    let answer: AuthResult | Promise<AuthResult>;
    try {
      answer = hook(hello, info);
    } catch {
      failed();
      return;
    }
    Promise.resolve(answer).then((result) => settle(checked(result)), failed);
  });
}

function checked(result: AuthResult): AuthOutcome {
  if (typeof result !== 'object' || result === null) return { ok: false, code: CloseCode.InternalError, reason: 'authentication failed', kind: 'auth-error' };
  if (result.ok) {
    const { peerId, meta } = result;
    if (peerId !== undefined && (typeof peerId !== 'string' || peerId === '' || peerId.length > 256)) {
      return { ok: false, code: CloseCode.InternalError, reason: 'authentication failed', kind: 'auth-error' };
    }
    return { ok: true, ...(peerId === undefined ? {} : { peerId }), ...(meta === undefined ? {} : { meta }) };
  }
  const code = result.code ?? CloseCode.Unauthorized;
  return {
    ok: false,
    code: REJECT_CODES.has(code) ? code : CloseCode.Unauthorized,
    reason: typeof result.reason === 'string' ? result.reason : 'unauthorized',
    kind: 'unauthorized',
  };
}
