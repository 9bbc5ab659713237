import { splitLinks } from '../lib/links';

/** Chat text with its web links clickable; built from React elements, so nothing in it is ever HTML. */
export function ChatText({ text }: { text: string }) {
  return (
    <>
      {splitLinks(text).map((part, i) =>
        part.kind === 'link' ? (
          <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">
            {part.text}
          </a>
        ) : (
          part.text
        ),
      )}
    </>
  );
}
