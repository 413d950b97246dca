/**
 * Maps a socket error to the liveness cause it means. The kernel reports its own
 * verdicts as errors: ETIMEDOUT after keepalive probes or TCP_USER_TIMEOUT ran out,
 * ECONNRESET/EPIPE after an RST (a rebooted peer, or one that closed with unread data).
 */
import type { Cause } from '@vigil/core';

export function causeOfSocketError(error: (Error & { code?: string }) | undefined, userTimeoutSet = false): Cause {
  switch (error?.code) {
    case undefined:
      return 'closed-by-peer';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    case 'ETIMEDOUT':
    // An established connection's timeout abort reports the last soft ICMP error
    // instead of ETIMEDOUT when one was recorded (tcp_write_err: sk_err_soft).
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return userTimeoutSet ? 'kernel-user-timeout' : 'kernel-keepalive';
    default:
      return 'transport-error';
  }
}
