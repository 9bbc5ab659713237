// ConnectionWatch follows one peer connection's state: `up` once connected,
// `lost` when it failed, or stayed disconnected longer than a grace period
// (a short interruption often heals by itself).

export class ConnectionWatch {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly graceMs: number,
    private readonly on: { up: () => void; lost: () => void },
  ) {}

  update(state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      this.stop();
      this.on.up();
    } else if (state === 'disconnected') {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.on.lost();
      }, this.graceMs);
    } else if (state === 'failed') {
      this.stop();
      this.on.lost();
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
