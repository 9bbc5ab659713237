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
  return (
    <aside className="sidepanel" aria-label={title} data-testid={testId}>
      <header className="sidepanel-head">
        <h2>{title}</h2>
        <button type="button" className="icon-btn" title="Close" onClick={onClose}>
          <Icon name="close" />
          <span className="visually-hidden">Close</span>
        </button>
      </header>
      {children}
    </aside>
  );
}
