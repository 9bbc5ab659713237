import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IceWatch } from './watch';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('IceWatch', () => {
  function watch() {
    const seen: string[] = [];
    const w = new IceWatch({
      restartAfterMs: 2000,
      giveUpAfterMs: 15_000,
      up: () => seen.push('up'),
      down: () => seen.push('down'),
      restart: () => seen.push('restart'),
      lost: () => seen.push('lost'),
    });
    return { w, seen };
  }

  it('restarts ICE after a lasting disconnect, at once on failure, and gives up in the end', () => {
    const { w, seen } = watch();
    w.update('connected');
    w.update('disconnected');
    vi.advanceTimersByTime(1999);
    w.update('connected');
    vi.advanceTimersByTime(20_000);
    expect(seen).toEqual(['up', 'down', 'up']);
    seen.length = 0;
    w.update('disconnected');
    vi.advanceTimersByTime(2000);
    expect(seen).toEqual(['down', 'restart']);
    w.update('failed');
    expect(seen).toEqual(['down', 'restart', 'restart']);
    vi.advanceTimersByTime(13_000);
    expect(seen).toEqual(['down', 'restart', 'restart', 'lost']);
  });

  it('restarts on a network change without calling the connection down', () => {
    const { w, seen } = watch();
    w.update('connected');
    w.kick();
    vi.advanceTimersByTime(60_000);
    expect(seen).toEqual(['up', 'restart']);
    w.stop();
  });
});
