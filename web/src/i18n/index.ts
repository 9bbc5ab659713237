// The words of the UI in the user's language: one catalogue per language
// (en.json, ko.json), chosen from what was picked in Settings (remembered in
// this browser), else from the browser's languages, else English.
// lib/ code and components share one i18next instance, so a status line built
// in lib/ and a button in a component are in the same language.

import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './en.json';
import ko from './ko.json';

export const LANGUAGES = ['en', 'ko'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Each language's name in itself, for the picker. */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', ko: '한국어' };

const LANG_KEY = 'meetd.lang';

function isLanguage(x: string | null | undefined): x is Language {
  return (LANGUAGES as readonly string[]).includes(x ?? '');
}

/** The language to use: the one chosen before, else the first of the browser's we have, else English. */
export function pickLanguage(stored: string | null, browser: readonly string[]): Language {
  if (isLanguage(stored)) return stored;
  for (const tag of browser) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLanguage(base)) return base;
  }
  return 'en';
}

function storedLanguage(): string | null {
  try {
    return globalThis.localStorage?.getItem(LANG_KEY) ?? null;
  } catch {
    return null;
  }
}

function browserLanguages(): readonly string[] {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav) return [];
  return nav.languages?.length ? nav.languages : nav.language ? [nav.language] : [];
}

export const i18n = i18next.createInstance();
void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, ko: { translation: ko } },
  lng: pickLanguage(storedLanguage(), browserLanguages()),
  fallbackLng: 'en',
  supportedLngs: [...LANGUAGES],
  interpolation: { escapeValue: false }, // React escapes; lib/ strings are never HTML
  initAsync: false,
  returnNull: false,
});

function markDocument(lng: string): void {
  if (typeof document !== 'undefined') document.documentElement.lang = lng;
}
markDocument(i18n.language);
i18n.on('languageChanged', markDocument);

/** Translates outside React (lib/ code, page titles). */
export const t = i18n.t.bind(i18n);

/** The language in use. */
export function currentLanguage(): Language {
  return isLanguage(i18n.language) ? i18n.language : 'en';
}

/** Switches the language, and remembers the choice in this browser. */
export function setLanguage(lng: Language): void {
  try {
    globalThis.localStorage?.setItem(LANG_KEY, lng);
  } catch {
    // Storage off: the choice lasts for this page only.
  }
  void i18n.changeLanguage(lng);
}

/**
 * meetd's error, as the UI shows it. meetd writes its messages in English, with
 * details (limits, seconds to wait): English shows them as they are; other
 * languages show the catalogue's words for the code.
 */
export function serverErrorText(code: string, message: string): string {
  if (currentLanguage() === 'en' && message) return message;
  return t(`server.${code}`, { defaultValue: message || t('server.internal') });
}

/**
 * The locale for dates and times: the browser's own tag when it is of the
 * language in use (en-GB writes 24-hour times, en-US does not), else the language.
 */
export function locale(): string {
  const lng = currentLanguage();
  return browserLanguages().find((tag) => tag.toLowerCase().split('-')[0] === lng) ?? lng;
}

/** A time of day, hours and minutes, in the user's locale. */
export function formatClock(d: Date): string {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(d);
}

/** An elapsed time as H:MM:SS or M:SS. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
