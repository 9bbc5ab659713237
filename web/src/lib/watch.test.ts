import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionWatch } from './watch';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('ConnectionWatch', () => {
  it('gives a disconnected connection a grace period, and reports failure at once', () => {
    const seen: string[] = [];
    const w = new ConnectionWatch(4000, { up: () => seen.push('up'), lost: () => seen.push('lost') });
    w.update('connecting');
    w.update('connected');
    w.update('disconnected');
    vi.advanceTimersByTime(3999);
    w.update('disconnected');
    w.update('connected');
    vi.advanceTimersByTime(10_000);
    expect(seen).toEqual(['up', 'up']);
    w.update('disconnected');
    vi.advanceTimersByTime(4000);
    expect(seen).toEqual(['up', 'up', 'lost']);
    w.update('failed');
    expect(seen).toEqual(['up', 'up', 'lost', 'lost']);
    w.update('disconnected');
    w.stop();
    vi.advanceTimersByTime(10_000);
    expect(seen).toHaveLength(4);
  });
});
