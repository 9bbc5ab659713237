import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from './ConfirmDialog';

/** "Stop recording?": the host confirms, or keeps recording (also Escape). */
export function StopRecordingDialog({ onStop, onCancel }: { onStop: () => void; onCancel: () => void }) {
  const { t } = useTranslation();
  return (
    <ConfirmDialog
      title={t('recording.confirmTitle')}
      text={t('recording.confirmText')}
      cancelLabel={t('recording.keep')}
      confirmLabel={t('recording.stop')}
      onConfirm={onStop}
      onCancel={onCancel}
    />
  );
}
