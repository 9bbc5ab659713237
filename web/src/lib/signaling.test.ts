import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket, resetFakes, settle } from './fakes.testutil';
import { Reconnector, SignalingClient, UnreachableError, backoffDelay, signalingUrl } from './signaling';

beforeEach(() => resetFakes());

describe('signalingUrl', () => {
  it('uses ws on http and wss on https', () => {
    expect(signalingUrl({ protocol: 'http:', host: '127.0.0.1:8090' })).toBe('ws://127.0.0.1:8090/ws');
    expect(signalingUrl({ protocol: 'https:', host: 'meet.example.org' })).toBe('wss://meet.example.org/ws');
  });
});

describe('SignalingClient', () => {
  const client = () => new SignalingClient('ws://x/ws', (u) => new FakeSocket(u));

  it('sends encoded messages and delivers decoded ones', async () => {
    const c = client();
    const got: unknown[] = [];
    const bad: string[] = [];
    c.on('message', (m) => got.push(m));
    c.on('invalid', (_e, text) => bad.push(text));
    const connected = c.connect();
    expect(c.send({ type: 'leave' })).toBe(false); // not open yet
    FakeSocket.latest().open();
    await connected;
    expect(c.send({ type: 'leave' })).toBe(true);
    expect(FakeSocket.latest().sent).toEqual([{ type: 'leave' }]);
    FakeSocket.latest().receive({ type: 'state', room: 'a', live: true, viewers: 1 });
    FakeSocket.latest().receive('{"type":"nope"}');
    expect(got).toEqual([{ type: 'state', room: 'a', live: true, viewers: 1 }]);
    expect(bad).toEqual(['{"type":"nope"}']);
  });

  it('rejects connect when the socket never opens', async () => {
    const c = client();
    const connected = c.connect();
    FakeSocket.latest().fail();
    await expect(connected).rejects.toBeInstanceOf(UnreachableError);
  });

  it('reports a close it did not ask for, but not its own', async () => {
    const closes: number[] = [];
    const a = client();
    a.on('close', (i) => closes.push(i.code));
    const pa = a.connect();
    FakeSocket.latest().open();
    await pa;
    FakeSocket.latest().drop();
    expect(closes).toEqual([1006]);

    const b = client();
    b.on('close', (i) => closes.push(i.code));
    const pb = b.connect();
    FakeSocket.latest().open();
    await pb;
    b.close();
    await settle();
    expect(closes).toEqual([1006]);
    expect(b.isOpen).toBe(false);
  });
});

describe('backoff', () => {
  it('doubles from 1s up to 10s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
  });

  describe('Reconnector', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('retries after growing delays, resets and cancels', () => {
      const retry = vi.fn();
      const r = new Reconnector(retry);
      expect(r.schedule()).toBe(1000);
      vi.advanceTimersByTime(999);
      expect(retry).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(retry).toHaveBeenCalledTimes(1);
      expect(r.schedule()).toBe(2000);
      expect(r.pending).toBe(true);
      r.cancel();
      vi.advanceTimersByTime(5000);
      expect(retry).toHaveBeenCalledTimes(1);
      r.reset();
      expect(r.schedule()).toBe(1000);
    });
  });
});
