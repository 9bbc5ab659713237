// Things remembered between visits, in localStorage (or any Storage).

import type { Quality } from './protocol';
import { toQuality } from './views';

const NAME_KEY = 'meetd.name';

/** The display name used last time; empty when none or storage is unavailable. */
export function loadName(storage: Storage | undefined = globalThis.localStorage): string {
  try {
    return storage?.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
}

/** Remembers the display name (at most 64 characters, as meetd allows). */
export function saveName(name: string, storage: Storage | undefined = globalThis.localStorage): string {
  const clean = name.trim().slice(0, 64);
  try {
    if (clean) storage?.setItem(NAME_KEY, clean);
    else storage?.removeItem(NAME_KEY);
  } catch {
    // Private mode or storage off: the name is just not remembered.
  }
  return clean;
}

const QUALITY_KEY = 'meetd.quality';

/** The video quality chosen last time; 'auto' when none. */
export function loadQuality(storage: Storage | undefined = globalThis.localStorage): Quality {
  try {
    return toQuality(storage?.getItem(QUALITY_KEY));
  } catch {
    return 'auto';
  }
}

/** Remembers the video quality; 'auto', the default, is remembered by forgetting. */
export function saveQuality(quality: Quality, storage: Storage | undefined = globalThis.localStorage): void {
  try {
    if (quality === 'auto') storage?.removeItem(QUALITY_KEY);
    else storage?.setItem(QUALITY_KEY, quality);
  } catch {
    // Private mode or storage off: the choice lasts for this page only.
  }
}
