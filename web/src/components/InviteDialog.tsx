import { useTranslation } from 'react-i18next';
import { useEffect, useRef } from 'react';

/** "You're invited to the stage": join it (camera and microphone go out) or not now. */
export function InviteDialog({ onAccept, onDecline }: { onAccept: () => void; onDecline: () => void }) {
  const { t } = useTranslation();
  const accept = useRef<HTMLButtonElement>(null);
  useEffect(() => accept.current?.focus(), []);
  return (
    <div className="dialog-backdrop">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="invite-title" aria-describedby="invite-text">
        <h2 id="invite-title">{t('invite.title')}</h2>
        <p id="invite-text">{t('invite.text')}</p>
        <div className="dialog-actions">
          <button type="button" className="btn btn-tonal" onClick={onDecline}>
            {t('invite.decline')}
          </button>
          <button type="button" ref={accept} className="btn btn-primary" onClick={onAccept}>
            {t('invite.accept')}
          </button>
        </div>
      </div>
    </div>
  );
}
