import { useTranslation } from 'react-i18next';

/**
 * The one "reconnecting" banner of every page: what happened, and what
 * happens next. `reason` is in words already; `next` says what the page does.
 * Over the video by default; `inline` in the flow of a column (the streamer's side).
 */
export function ConnectionBanner({ reason, next, inline = false }: { reason: string; next: string; inline?: boolean }) {
  const { t } = useTranslation();
  return (
    <div className={`conn-banner ${inline ? 'is-inline' : ''}`} role="alert" data-testid="reconnecting">
      <span className="conn-spinner" aria-hidden="true" />
      <div>
        <p className="conn-title">{t('status.reconnecting')}</p>
        <p className="conn-text">
          {reason} {next}
        </p>
      </div>
    </div>
  );
}
