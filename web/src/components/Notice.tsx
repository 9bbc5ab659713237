import { useTranslation } from 'react-i18next';
import type { ReactNode } from 'react';
import type { LocalMedia } from '../hooks/useLocalMedia';

/** A box that explains something: an error (tone "error") or a plain note. */
export function Notice({
  tone,
  title,
  children,
}: {
  tone: 'error' | 'info';
  title: string;
  children?: ReactNode;
}) {
  return (
    <div className={`notice notice-${tone}`} role={tone === 'error' ? 'alert' : 'note'}>
      <p className="notice-title">{title}</p>
      {children}
    </div>
  );
}

/**
 * Why the camera and microphone did not open (with Try again when that may
 * help; `children` add to it), and anything else worth knowing about them.
 */
export function MediaNotices({ media, children }: { media: LocalMedia; children?: ReactNode }) {
  const { t } = useTranslation();
  return (
    <>
      {media.problem && (
        <Notice tone="error" title={media.problem.summary}>
          <p>{media.problem.help}</p>
          {children}
          {media.problem.retry && (
            <button type="button" className="btn btn-tonal" onClick={media.reopen}>
              {t('common.tryAgain')}
            </button>
          )}
        </Notice>
      )}
      {media.notice && <Notice tone="info" title={media.notice} />}
    </>
  );
}
