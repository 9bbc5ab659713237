import { describe, expect, it } from 'vitest';
import { shortcutLabel, shortcutOf } from './shortcuts';

const key = (k: string, mods: Partial<Record<'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey', boolean>> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe('shortcuts', () => {
  it('are Ctrl+D and Ctrl+E, or ⌘ on a Mac', () => {
    expect(shortcutOf(key('d', { ctrlKey: true }), false)).toBe('mic');
    expect(shortcutOf(key('E', { ctrlKey: true }), false)).toBe('cam');
    expect(shortcutOf(key('d', { metaKey: true }), true)).toBe('mic');
    expect(shortcutOf(key('d', { metaKey: true }), false)).toBeNull();
    expect(shortcutOf(key('d', { ctrlKey: true }), true)).toBeNull();
    expect(shortcutOf(key('d', { ctrlKey: true, shiftKey: true }), false)).toBeNull();
    expect(shortcutOf(key('d'), false)).toBeNull();
    expect(shortcutLabel('d', false)).toBe('Ctrl+D');
    expect(shortcutLabel('e', true)).toBe('⌘+E');
  });
});
