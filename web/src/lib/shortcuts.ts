// Keyboard shortcuts of a call, as in Meet: Ctrl+D (⌘+D on macOS) toggles the
// microphone, Ctrl+E (⌘+E) the camera. Pure: the page wires them to its keydown.

export type Shortcut = 'mic' | 'cam';

/** Whether this is a Mac, where the shortcuts use ⌘ instead of Ctrl. */
export function isMac(platform: string = globalThis.navigator?.platform ?? ''): boolean {
  return /Mac|iPhone|iPad/.test(platform);
}

/** The shortcut a key press asks for, or null. */
export function shortcutOf(
  e: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>,
  mac: boolean = isMac(),
): Shortcut | null {
  const mod = mac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
  if (!mod || e.altKey || e.shiftKey) return null;
  const key = e.key.toLowerCase();
  if (key === 'd') return 'mic';
  if (key === 'e') return 'cam';
  return null;
}

/** How to write a shortcut's keys here: "Ctrl+D" or "⌘+D". */
export function shortcutLabel(key: 'd' | 'e', mac: boolean = isMac()): string {
  return `${mac ? '⌘' : 'Ctrl'}+${key.toUpperCase()}`;
}
