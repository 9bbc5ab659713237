import type { CSSProperties } from 'react';

export const AVATAR_HUES = [210, 140, 20, 280, 340, 180, 45, 260, 100, 0];

/** A steady colour per person, from their id: the same on their tile and in the People list. */
export function avatarHue(id: string): number {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return AVATAR_HUES[h % AVATAR_HUES.length]!;
}

export function avatarStyle(id: string): CSSProperties {
  return { ['--hue' as string]: avatarHue(id) };
}
