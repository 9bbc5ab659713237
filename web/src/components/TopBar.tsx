import type { ReactNode } from 'react';

/** The bar at the top of every page: the name of the app and of the broadcast. */
export function TopBar({ room, children }: { room?: string; children?: ReactNode }) {
  return (
    <header className="topbar">
      <a className="brand" href="/">
        <span className="brand-mark" aria-hidden="true" />
        meetd
      </a>
      {room !== undefined && (
        <p className="room-name">
          Broadcast <strong data-testid="room-name">{room}</strong>
        </p>
      )}
      <div className="topbar-end">{children}</div>
    </header>
  );
}
