import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Logo } from './icons';
import { LanguagePicker } from './LanguagePicker';

/** The bar at the top of every page: the name of the app and of the broadcast or meeting, and the language. */
export function TopBar({
  room,
  kind = 'broadcast',
  children,
}: {
  room?: string;
  kind?: 'broadcast' | 'meeting';
  children?: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <header className="topbar">
      <a className="brand" href="/">
        <Logo />
        meetd
      </a>
      {room !== undefined && (
        <p className="room-name">
          {t(`topbar.${kind}`)} <strong data-testid="room-name">{room}</strong>
        </p>
      )}
      <div className="topbar-end">
        {children}
        <LanguagePicker compact />
      </div>
    </header>
  );
}
