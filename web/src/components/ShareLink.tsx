import { useEffect, useState } from 'react';
import { copyText } from './clipboard';
import { Icon } from './icons';

/** The viewer link of a broadcast, with a copy button. */
export function ShareLink({ url }: { url: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);

  useEffect(() => {
    if (copied === null) return;
    const t = setTimeout(() => setCopied(null), 2500);
    return () => clearTimeout(t);
  }, [copied]);

  return (
    <section className="card share" aria-labelledby="share-title">
      <h2 id="share-title" className="card-title">
        Viewer link
      </h2>
      <p className="card-text">Send this link to the people who should watch.</p>
      <a className="share-url" href={url} target="_blank" rel="noopener noreferrer" data-testid="viewer-link">
        {url}
      </a>
      <div className="share-actions">
        <button
          type="button"
          className="btn btn-tonal"
          onClick={() => void copyText(url).then((ok) => setCopied(ok ? 'yes' : 'no'))}
        >
          <Icon name="copy" />
          Copy viewer link
        </button>
        <span className="share-feedback" aria-live="polite">
          {copied === 'yes' ? 'Copied' : copied === 'no' ? 'Could not copy; select the link and copy it.' : ''}
        </span>
      </div>
    </section>
  );
}
