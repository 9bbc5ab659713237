// Finds web links in chat text, so the UI can make them clickable as React
// elements (never as HTML: the text stays text, whatever it holds).

export type TextPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
/** Punctuation that ends a sentence rather than a link. */
const TRAILING = /[.,;:!?'’)\]}]$/;

/** Drops sentence punctuation from the end; a ")" stays when it closes a "(" of the link (wiki addresses). */
function trimEnd(raw: string): string {
  let s = raw;
  while (TRAILING.test(s)) {
    if (s.endsWith(')') && (s.match(/\(/g)?.length ?? 0) >= (s.match(/\)/g)?.length ?? 0)) break;
    s = s.slice(0, -1);
  }
  return s;
}

/** Only http(s) addresses become links; anything else (javascript:, data:…) stays text. */
function safeHref(raw: string): string | null {
  const href = /^www\./i.test(raw) ? `https://${raw}` : raw;
  try {
    const u = new URL(href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Splits text into plain parts and links. */
export function splitLinks(text: string): TextPart[] {
  const out: TextPart[] = [];
  let last = 0;
  const push = (t: string) => {
    if (!t) return;
    const prev = out[out.length - 1];
    if (prev?.kind === 'text') prev.text += t;
    else out.push({ kind: 'text', text: t });
  };
  for (const m of text.matchAll(LINK)) {
    const raw = trimEnd(m[0]);
    const start = m.index;
    const href = safeHref(raw);
    push(text.slice(last, start));
    if (href) out.push({ kind: 'link', text: raw, href });
    else push(raw);
    last = start + raw.length;
  }
  push(text.slice(last));
  return out;
}
