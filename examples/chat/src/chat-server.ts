/**
 * `ChatServer`: a `VigilServer` wired to a `Room`. Liveness changes and parsed chat
 * messages go into the room; what the room returns is sent to the peers it names.
 * Everything the room decided is also published on `deliveries$` (the CLI logs it).
 */
import type { StateChange } from '@vigil/core';
import { VigilServer, type PeerMessage, type ServerAddresses, type VigilServerOptions } from '@vigil/server';
import { Subject, Subscription, type Observable } from 'rxjs';
import { parseClientMessage, type ServerMessage } from './chat-protocol.js';
import { Room, type Delivery } from './room.js';

export interface ChatServerOptions extends VigilServerOptions {
  /** Wall clock that stamps chat lines, ms since the epoch. Default `Date.now`. */
  readonly wallClock?: () => number;
}

export class ChatServer {
  readonly vigil: VigilServer<unknown, ServerMessage>;
  readonly room = new Room();
  private readonly deliverySubject = new Subject<Delivery>();
  /** Every delivery the room produced, after it was sent; presence changes appear even with no recipients. */
  readonly deliveries$: Observable<Delivery> = this.deliverySubject.asObservable();
  private readonly wallClock: () => number;
  private readonly subscriptions = new Subscription();

  constructor(options: ChatServerOptions) {
    const { wallClock, ...vigilOptions } = options;
    this.wallClock = wallClock ?? Date.now;
    this.vigil = new VigilServer<unknown, ServerMessage>(vigilOptions);
    this.subscriptions.add(this.vigil.changes$.subscribe((change) => this.onChange(change)));
    this.subscriptions.add(this.vigil.messages$.subscribe((m) => this.onMessage(m)));
  }

  /** Starts listening; resolves with the ports bound. */
  listen(): Promise<ServerAddresses> {
    return this.vigil.listen();
  }

  /** Closes every connection in order and stops listening. Members are not told they went offline. */
  async close(): Promise<void> {
    this.subscriptions.unsubscribe();
    await this.vigil.close();
    this.deliverySubject.complete();
  }

  private onChange(change: StateChange): void {
    this.deliver(this.room.liveness(change));
  }

  private onMessage({ peer, message }: PeerMessage<unknown, ServerMessage>): void {
    const parsed = parseClientMessage(message);
    if (parsed === null) {
      peer.logger.debug('ignored a body that is not a chat message');
      return;
    }
    this.deliver(this.room.receive(peer.id, parsed, this.wallClock()));
  }

  private deliver(deliveries: readonly Delivery[]): void {
    for (const d of deliveries) {
      for (const id of d.to) this.vigil.peers.get(id)?.send(d.message);
      this.deliverySubject.next(d);
    }
  }
}
