// The catalogues and the code agree: every language has every message, every
// message is used, every key the code asks for exists, and no words meant for
// the user are left outside the catalogues.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import en from './en.json';
import ko from './ko.json';
import { i18n, pickLanguage, serverErrorText } from './index';

type Tree = { [k: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

/** i18next's plural forms: Korean has one (_other), English two (_one, _other). */
const PLURAL = /_(zero|one|two|few|many|other)$/;
const base = (key: string) => key.replace(PLURAL, '');

const catalogues: Record<string, Map<string, string>> = { en: flatten(en), ko: flatten(ko) };

const SRC = path.resolve(__dirname, '..');

function sources(dir: string = SRC): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.tsx?$/.test(name) && !/\.test\.ts$|\.testutil\.ts$/.test(name)) out.push(p);
  }
  return out;
}

const files = sources().map((p) => ({ path: path.relative(SRC, p), text: readFileSync(p, 'utf8') }));
const allText = files.map((f) => f.text).join('\n');

/** Keys the code builds at run time, as patterns: t(`people.${x}`) → /^people\..+$/. */
const dynamic: RegExp[] = [];
for (const m of allText.matchAll(/\bt\(\s*`([^`]*)`/g)) {
  const parts = m[1]!.split(/\$\{[^}]*\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  dynamic.push(new RegExp(`^${parts.join('.+')}$`));
}

/** Every quoted string in the code that looks like one of the catalogue's keys. */
const namespaces = new Set(Object.keys(en));
const quoted = new Set<string>();
for (const m of allText.matchAll(/['"]([a-z][A-Za-z]*\.[A-Za-z0-9_.-]+)['"]/g)) {
  if (namespaces.has(m[1]!.split('.')[0]!)) quoted.add(m[1]!);
}

const vars = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}|<\/?(\w+)>/g)].map((m) => m[0]).sort();

describe('catalogues', () => {
  it('have the same messages in every language', () => {
    const want = new Set([...catalogues.en!.keys()].map(base));
    for (const [lng, cat] of Object.entries(catalogues)) {
      const have = new Set([...cat.keys()].map(base));
      expect([...want].filter((k) => !have.has(k)), `missing in ${lng}`).toEqual([]);
      expect([...have].filter((k) => !want.has(k)), `extra in ${lng}`).toEqual([]);
      for (const [k, v] of cat) expect(v.trim(), `${lng}: ${k} is empty`).not.toBe('');
    }
  });

  it('fill in the same values and tags in every language', () => {
    for (const [k, v] of catalogues.ko!) {
      const english = catalogues.en!.get(k) ?? catalogues.en!.get(k.replace(PLURAL, '_one')) ?? '';
      expect(vars(v), `ko: ${k}`).toEqual(vars(english));
    }
  });

  it('hold no message the code does not use', () => {
    const unused = [...new Set([...catalogues.en!.keys()].map(base))].filter(
      (k) => !quoted.has(k) && !dynamic.some((re) => re.test(k)),
    );
    expect(unused).toEqual([]);
  });

  it('hold every message the code asks for', () => {
    const keys = new Set([...catalogues.en!.keys()].map(base));
    expect([...quoted].filter((k) => !keys.has(k))).toEqual([]);
    for (const re of dynamic) expect([...keys].some((k) => re.test(k)), `nothing matches ${re}`).toBe(true);
  });

  it('name every error code of docs/protocol.md', () => {
    const doc = readFileSync(path.resolve(SRC, '../../docs/protocol.md'), 'utf8');
    const codes = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(10);
    for (const code of codes) expect(catalogues.ko!.has(`server.${code}`), code).toBe(true);
  });
});

describe('language', () => {
  it('is the one chosen, else the browser’s, else English', () => {
    expect(pickLanguage('ko', ['en-US'])).toBe('ko');
    expect(pickLanguage(null, ['ko-KR', 'en'])).toBe('ko');
    expect(pickLanguage(null, ['fr-FR', 'ko'])).toBe('ko');
    expect(pickLanguage('xx', ['fr-FR'])).toBe('en');
    expect(pickLanguage(null, [])).toBe('en');
  });

  it('shows meetd’s errors in words of the language', async () => {
    expect(serverErrorText('room_full', 'The meeting is full (16 on stage).')).toBe('The meeting is full (16 on stage).');
    await i18n.changeLanguage('ko');
    try {
      expect(serverErrorText('room_full', 'The meeting is full (16 on stage).')).toBe(ko.server.room_full);
      expect(serverErrorText('something_new', 'Words from meetd.')).toBe('Words from meetd.');
    } finally {
      await i18n.changeLanguage('en');
    }
  });
});

// Words for the user written straight into the code instead of the catalogue.
// Checked: text between JSX tags, the attributes people read (title,
// placeholder, aria-label, alt), and any string that reads like a sentence
// ("Could not …"), outside console calls and comments.
// The app's name, and the name printed on a key.
const ALLOWED_TEXT = new Set(['meetd', 'Esc']);
const READ_ATTRIBUTES = new Set(['title', 'placeholder', 'aria-label', 'alt']);
const SENTENCE = /^[A-Z][a-z']+ [a-z]/;

function literals(file: { path: string; text: string }): string[] {
  const kind = file.path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const at = (n: ts.Node, s: string) => {
    const { line } = sf.getLineAndCharacterOfPosition(n.getStart());
    found.push(`${file.path}:${line + 1}: ${s.trim()}`);
  };
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.expression.getText(sf).startsWith('console.')) return;
    if (ts.isJsxText(n)) {
      const s = n.getText(sf).trim();
      if (/\p{L}/u.test(s) && !ALLOWED_TEXT.has(s)) at(n, s);
    } else if (ts.isJsxAttribute(n) && n.initializer && ts.isStringLiteral(n.initializer)) {
      if (READ_ATTRIBUTES.has(n.name.getText(sf)) && /\p{L}/u.test(n.initializer.text)) at(n, n.initializer.text);
    } else if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n)) {
      if (SENTENCE.test(n.text)) at(n, n.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('the code', () => {
  it('leaves no words for the user outside the catalogues', () => {
    expect(files.flatMap(literals)).toEqual([]);
  });
});
