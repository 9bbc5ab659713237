// Finds web links in chat text, so the UI can make them clickable as React
// elements (never as HTML: the text stays text, whatever it holds).

export type TextPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
/** Punctuation that ends a sentence rather than a link. */
const TRAILING = /[.,;:!?'’)\]}]+$/;

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
    let raw = m[0];
    // Keep a closing bracket that has its opening one inside the link (wiki-style addresses).
    const trail = TRAILING.exec(raw)?.[0] ?? '';
    if (trail && !(trail === ')' && raw.includes('('))) raw = raw.slice(0, raw.length - trail.length);
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
