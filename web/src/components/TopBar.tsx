import type { ReactNode } from 'react';

/** The bar at the top of every page: the name of the app and of the broadcast or meeting. */
export function TopBar({
  room,
  kind = 'Broadcast',
  children,
}: {
  room?: string;
  kind?: 'Broadcast' | 'Meeting';
  children?: ReactNode;
}) {
  return (
    <header className="topbar">
      <a className="brand" href="/">
        <span className="brand-mark" aria-hidden="true" />
        meetd
      </a>
      {room !== undefined && (
        <p className="room-name">
          {kind} <strong data-testid="room-name">{room}</strong>
        </p>
      )}
      <div className="topbar-end">{children}</div>
    </header>
  );
}
