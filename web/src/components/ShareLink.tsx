import { useTranslation } from 'react-i18next';
import { useEffect, useState } from 'react';
import { copyText } from './clipboard';
import { Icon } from './icons';

/** The viewer link of a broadcast, with a copy button. */
export function ShareLink({ url }: { url: string }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);

  useEffect(() => {
    if (copied === null) return;
    const t = setTimeout(() => setCopied(null), 2500);
    return () => clearTimeout(t);
  }, [copied]);

  return (
    <section className="card share" aria-labelledby="share-title">
      <h2 id="share-title" className="card-title">
        {t('share.title')}
      </h2>
      <p className="card-text">{t('share.text')}</p>
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
          {t('share.copy')}
        </button>
        <span className="share-feedback" aria-live="polite">
          {copied === 'yes' ? t('share.copied') : copied === 'no' ? t('share.copyFailed') : ''}
        </span>
      </div>
    </section>
  );
}
