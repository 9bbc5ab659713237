import type { ReactNode } from 'react';

/** A box that explains something: an error (tone "error") or a plain note. */
export function Notice({
  tone,
  title,
  children,
}: {
  tone: 'error' | 'info';
  title: string;
  children?: ReactNode;
}) {
  return (
    <div className={`notice notice-${tone}`} role={tone === 'error' ? 'alert' : 'note'}>
      <p className="notice-title">{title}</p>
      {children}
    </div>
  );
}
