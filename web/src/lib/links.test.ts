import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ChatText } from '../components/ChatText';
import { splitLinks } from './links';

describe('links in chat', () => {
  it('are found in text, without the punctuation that ends a sentence', () => {
    expect(splitLinks('see https://example.org/a?b=1, or www.example.com.')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { kind: 'text', text: ', or ' },
      { kind: 'link', text: 'www.example.com', href: 'https://www.example.com/' },
      { kind: 'text', text: '.' },
    ]);
    expect(splitLinks('(https://en.wikipedia.org/wiki/Foo_(bar))')[1]).toEqual({
      kind: 'link',
      text: 'https://en.wikipedia.org/wiki/Foo_(bar)',
      href: 'https://en.wikipedia.org/wiki/Foo_(bar)',
    });
    expect(splitLinks('no links here')).toEqual([{ kind: 'text', text: 'no links here' }]);
  });

  it('open safely, and nothing in a message becomes HTML', () => {
    const html = renderToStaticMarkup(
      createElement(ChatText, {
        text: 'hi <img src=x onerror=alert(1)> javascript:alert(1) https://example.org/"><script>alert(1)</script>',
      }),
    );
    expect(html).not.toMatch(/<img|<script|href="javascript/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('<a href="https://example.org/" target="_blank" rel="noopener noreferrer">https://example.org/</a>');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
  });
});
