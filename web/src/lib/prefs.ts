// Things remembered between visits, in localStorage (or any Storage).

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
