/**
 * Session resume on the server: its options, which ends of a transport leave the
 * session resumable (`detached`), and the answer to a `hello` that asks to resume.
 * The session itself (stream, replay buffer, state) lives on the `Peer`.
 */
import { REPLAY_DEFAULTS, resolveReplayLimits, type Cause, type ReplayLimits, type SessionStream } from '@vigil/core';
import { CloseCode, ConfigError } from '@vigil/protocol';

/** Named defaults of `VigilServerOptions.resume`. */
export const RESUME_DEFAULTS = {
  /** Ms a detached session is held for its client to come back. */
  windowMs: 30_000,
  ...REPLAY_DEFAULTS,
} as const;

export interface ResumeOptions {
  /** Ms a session whose transport failed is held for its client to resume it. Default 30000. */
  readonly windowMs?: number;
  /** Most unacknowledged messages kept per session for replay. Default 1024. */
  readonly maxMessages?: number;
  /** Most bytes of unacknowledged messages kept per session for replay. Default 1 MiB. */
  readonly maxBytes?: number;
}

/** Validated resume settings. */
export interface ResumeSettings {
  readonly windowMs: number;
  readonly replay: ReplayLimits;
}

/** `true` takes the defaults; `false` or absent turns resume off. @throws ConfigError naming the field. */
export function resolveResume(options: ResumeOptions | boolean | undefined): ResumeSettings | null {
  if (options === undefined || options === false) return null;
  const o = options === true ? {} : options;
  const windowMs = o.windowMs ?? RESUME_DEFAULTS.windowMs;
  if (!Number.isInteger(windowMs) || windowMs < 1) throw new ConfigError('resume.windowMs', `must be a positive integer number of ms, got ${String(o.windowMs)}`);
  return { windowMs, replay: resolveReplayLimits(o) };
}

/** Orderly closes after which the client is gone for good (anything else may come back). */
const FINAL_PEER_CLOSES: ReadonlySet<number> = new Set([CloseCode.Normal, CloseCode.GoingAway]);

/**
 * Whether a session whose transport ended with `cause` stays resumable: transport
 * failures do (reset, silence, kernel verdicts, a peer that stopped reading); orderly
 * closes by either side, protocol violations, refusals and replacements do not. A
 * `close` from the client counts as a failure unless it says 1000 or 1001: a client that
 * declared us dead sends 4001 and comes back.
 */
export function resumableEnd(cause: Cause | null, peerCloseCode: number | undefined): boolean {
  switch (cause) {
    case 'heartbeat-timeout':
    case 'reset':
    case 'closed-by-peer':
    case 'kernel-keepalive':
    case 'kernel-user-timeout':
    case 'transport-error':
    case 'slow-consumer':
      return true;
    case 'peer-close':
      return peerCloseCode !== undefined && !FINAL_PEER_CLOSES.has(peerCloseCode);
    default:
      return false;
  }
}

/** The answer to `hello.options.resume` against the session it names (if the server still holds it). */
export type ResumeVerdict =
  | { readonly kind: 'resume' }
  /** Not resumable (unknown, expired, over its bound, other peer): a new session, `welcome.options.resumed: false`. */
  | { readonly kind: 'fresh'; readonly why: 'unknown-session' | 'not-resumable' | 'other-peer' }
  /** The request contradicts the session (acknowledges data never sent): close 4007. */
  | { readonly kind: 'reject'; readonly reason: string };

export function judgeResume(
  request: { readonly session: string; readonly ack: number },
  session: { readonly id: string; readonly stream: SessionStream; readonly ended: boolean } | undefined,
  requestedId: string,
): ResumeVerdict {
  if (session === undefined || session.ended) return { kind: 'fresh', why: 'unknown-session' };
  if (requestedId !== '' && requestedId !== session.id) return { kind: 'fresh', why: 'other-peer' };
  if (request.ack > session.stream.outSeq) {
    return { kind: 'reject', reason: `resume ack ${request.ack} is ahead of the last data seq sent (${session.stream.outSeq})` };
  }
  return session.stream.canResumeFrom(request.ack) ? { kind: 'resume' } : { kind: 'fresh', why: 'not-resumable' };
}
