import { describe, expect, it } from 'vitest';
import { loadName, loadQuality, saveName, saveQuality } from './prefs';

function memory(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  } as Storage;
}

describe('display name', () => {
  it('is remembered, trimmed and at most 64 characters', () => {
    const s = memory();
    expect(loadName(s)).toBe('');
    expect(saveName('  Ana  ', s)).toBe('Ana');
    expect(loadName(s)).toBe('Ana');
    expect(saveName('x'.repeat(70), s)).toHaveLength(64);
    saveName(' ', s);
    expect(loadName(s)).toBe('');
  });

  it('works without storage', () => {
    expect(loadName(undefined)).toBe('');
    const broken = { getItem: () => { throw new Error('no'); }, setItem: () => { throw new Error('no'); } } as unknown as Storage;
    expect(loadName(broken)).toBe('');
    expect(saveName('Ana', broken)).toBe('Ana');
  });
});

describe('video quality', () => {
  it('is remembered, and auto by default or when storage holds anything else', () => {
    const s = memory();
    expect(loadQuality(s)).toBe('auto');
    saveQuality('low', s);
    expect(loadQuality(s)).toBe('low');
    saveQuality('auto', s);
    expect(loadQuality(s)).toBe('auto');
    s.setItem('meetd.quality', 'ultra');
    expect(loadQuality(s)).toBe('auto');
    expect(loadQuality(undefined)).toBe('auto');
  });
});
