import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { formatElapsed } from '../i18n';

/** A red LIVE badge with the time since `since` (ms since the epoch), ticking each second. */
export function LiveBadge({ since }: { since: number }) {
  const { t } = useTranslation();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const elapsed = formatElapsed(now - since);
  return (
    <p className="live-badge" data-testid="live-badge">
      <span aria-hidden="true">{t('live.badge')}</span>
      <time aria-hidden="true">{elapsed}</time>
      <span className="visually-hidden">{t('live.label', { elapsed })}</span>
    </p>
  );
}

/** When something became live: set while `live` holds, null otherwise. */
export function useLiveSince(live: boolean): number | null {
  const [since, setSince] = useState<number | null>(null);
  useEffect(() => {
    setSince(live ? Date.now() : null);
  }, [live]);
  return since;
}
