import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Icon } from './icons';

/**
 * A panel beside the call (a full-screen sheet on phones) with a title and a
 * Close button. Focus moves into it when it opens (to what its content
 * focused, else its title) and back to what had it when it closes; Escape closes it.
 */
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
  const panel = useRef<HTMLElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  // What had focus when the panel opened (read at the first render, before any effect moved it).
  const [from] = useState(() => (document.activeElement instanceof HTMLElement ? document.activeElement : null));

  useEffect(() => {
    // The content's own focus (the chat's message box) ran first, as a child effect.
    if (!panel.current?.contains(document.activeElement)) heading.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented) close.current();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      // Back to the button that opened the panel, if it is still there.
      if (from?.isConnected && (!document.activeElement || document.activeElement === document.body)) from.focus();
    };
  }, [from]);

  return (
    <aside className="sidepanel" aria-label={title} data-testid={testId} ref={panel}>
      <header className="sidepanel-head">
        <h2 ref={heading} tabIndex={-1}>
          {title}
        </h2>
        <button type="button" className="icon-btn" title={t('common.close')} onClick={onClose}>
          <Icon name="close" />
          <span className="visually-hidden">{t('common.close')}</span>
        </button>
      </header>
      {children}
    </aside>
  );
}
