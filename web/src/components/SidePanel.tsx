import { useTranslation } from 'react-i18next';
import type { ReactNode } from 'react';
import { Icon } from './icons';

/** A panel beside the call (a full-screen sheet on phones) with a title and a Close button. */
export function SidePanel({
  title,
  onClose,
  children,
  testId,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  testId?: string;
}) {
  const { t } = useTranslation();
  return (
    <aside className="sidepanel" aria-label={title} data-testid={testId}>
      <header className="sidepanel-head">
        <h2>{title}</h2>
        <button type="button" className="icon-btn" title={t('common.close')} onClick={onClose}>
          <Icon name="close" />
          <span className="visually-hidden">{t('common.close')}</span>
        </button>
      </header>
      {children}
    </aside>
  );
}
