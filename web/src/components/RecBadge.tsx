import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { formatElapsed } from '../i18n';
import type { RecordingState } from '../lib/recording';

/**
 * The red REC badge with the time the room has been recorded, ticking each
 * second. Everyone in a recorded room sees it: nobody is recorded unawares.
 */
export function RecBadge({ recording, className = '' }: { recording: RecordingState; className?: string }) {
  const { t } = useTranslation();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const elapsed = formatElapsed(now - recording.since);
  const by = recording.by.trim();
  const label = by ? t('recording.labelBy', { elapsed, name: by }) : t('recording.label', { elapsed });
  return (
    <p className={`rec-badge ${className}`} data-testid="rec-badge" title={label}>
      <span className="rec-dot" aria-hidden="true" />
      <span aria-hidden="true">{t('recording.badge')}</span>
      <time aria-hidden="true">{elapsed}</time>
      <span className="visually-hidden">{label}</span>
    </p>
  );
}
