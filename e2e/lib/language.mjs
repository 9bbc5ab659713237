// What a page shows in the user's language: the UI's own English messages
// (from web/src/i18n/en.json) must not be on a page shown in Korean.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function flatten(tree, out = []) {
  for (const v of Object.values(tree)) {
    if (typeof v === 'string') out.push(v);
    else flatten(v, out);
  }
  return out;
}

/** English messages of two words or more with nothing filled in: none of them may show on a Korean page. */
export const ENGLISH = flatten(JSON.parse(readFileSync(path.resolve(here, '../../web/src/i18n/en.json'), 'utf8'))).filter(
  (s) => !/\{\{|<\w+>/.test(s) && /^[A-Za-z'’]+ [A-Za-z'’]+/.test(s),
);

const HANGUL = /[\uac00-\ud7a3]/;

/**
 * Checks the user's page is in Korean: the document's language, the tab's
 * title, a heading or status in Hangul, and no English message of the UI in
 * its visible text or in the names and tips it gives its controls.
 */
export async function expectKorean(user, what) {
  const page = await user.page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.title,
    text: document.body.innerText,
    names: [...document.querySelectorAll('[title],[aria-label],[placeholder]')]
      .map((e) => [e.getAttribute('title'), e.getAttribute('aria-label'), e.getAttribute('placeholder')])
      .flat()
      .filter(Boolean)
      .join('\n'),
  }));
  assert.equal(page.lang, 'ko', `${user.label} on ${what}: <html lang>`);
  assert.match(page.title, HANGUL, `${user.label} on ${what}: the title ${JSON.stringify(page.title)} is not Korean`);
  assert.match(page.text, HANGUL, `${user.label} on ${what}: no Korean text`);
  const english = ENGLISH.filter((s) => page.text.includes(s) || page.names.includes(s));
  assert.deepEqual(english, [], `${user.label} on ${what}: English left on the page`);
}
