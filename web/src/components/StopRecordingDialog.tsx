import { useTranslation } from 'react-i18next';
import { useEffect, useRef } from 'react';

/** "Stop recording?": the host confirms, or keeps recording (also Escape). */
export function StopRecordingDialog({ onStop, onCancel }: { onStop: () => void; onCancel: () => void }) {
  const { t } = useTranslation();
  const keep = useRef<HTMLButtonElement>(null);
  useEffect(() => keep.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel]);
  return (
    <div className="dialog-backdrop">
      <div
        className="dialog rec-dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="stop-rec-title"
        aria-describedby="stop-rec-text"
      >
        <h2 id="stop-rec-title">{t('recording.confirmTitle')}</h2>
        <p id="stop-rec-text">{t('recording.confirmText')}</p>
        <div className="dialog-actions">
          <button type="button" ref={keep} className="btn btn-tonal" onClick={onCancel}>
            {t('recording.keep')}
          </button>
          <button type="button" className="btn btn-danger" onClick={onStop}>
            {t('recording.stop')}
          </button>
        </div>
      </div>
    </div>
  );
}
