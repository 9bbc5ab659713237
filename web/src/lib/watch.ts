// IceWatch turns a peer connection's states into what to do: say
// "Reconnecting…", restart ICE, or give up and rejoin.

export interface IceWatchOptions {
  /** How long `disconnected` may last before ICE is restarted. */
  restartAfterMs: number;
  /** How long the connection may stay down, restarts and all, before it counts as lost. */
  giveUpAfterMs: number;
  /** Connected (again). */
  up: () => void;
  /** The media path is down: say "Reconnecting…". */
  down: () => void;
  /** Restart ICE on the connection. */
  restart: () => void;
  /** ICE restarts did not bring it back. */
  lost: () => void;
}

/**
 * IceWatch follows a peer connection whose ICE can be restarted: a short
 * `disconnected` may heal by itself; one that lasts, a `failed`, or a
 * network change (kick) restarts ICE, until the connection is back or the
 * time to give up has come.
 */
export class IceWatch {
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private giveUpTimer: ReturnType<typeof setTimeout> | null = null;
  private isDown = false;

  constructor(private readonly on: IceWatchOptions) {}

  update(state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      this.stop();
      this.isDown = false;
      this.on.up();
    } else if (state === 'disconnected') {
      this.goDown();
      this.restartTimer ??= setTimeout(() => {
        this.restartTimer = null;
        this.on.restart();
      }, this.on.restartAfterMs);
    } else if (state === 'failed') {
      this.goDown();
      this.kick();
    }
  }

  /**
   * Restarts ICE now: the network changed. The connection may still work
   * (the old path too), so it is not called down for that.
   */
  kick(): void {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.on.restart();
  }

  stop(): void {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    if (this.giveUpTimer !== null) clearTimeout(this.giveUpTimer);
    this.restartTimer = this.giveUpTimer = null;
  }

  private goDown(): void {
    if (!this.isDown) {
      this.isDown = true;
      this.on.down();
    }
    this.giveUpTimer ??= setTimeout(() => {
      this.stop();
      this.on.lost();
    }, this.on.giveUpAfterMs);
  }
}
