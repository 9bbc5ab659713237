import { useCallback, useEffect, useRef, useState } from 'react';

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

/** Short notices that go away by themselves. */
export function useToasts(lifetimeMs = 4500) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(0);
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());

  const push = useCallback(
    (text: string, tone: Toast['tone'] = 'info') => {
      const id = ++next.current;
      // At most four at once: the oldest goes first.
      setToasts((list) => [...list.slice(-3), { id, text, tone }]);
      const t = setTimeout(() => {
        timers.current.delete(t);
        setToasts((list) => list.filter((x) => x.id !== id));
      }, lifetimeMs);
      timers.current.add(t);
    },
    [lifetimeMs],
  );

  useEffect(() => {
    const all = timers.current;
    return () => all.forEach(clearTimeout);
  }, []);

  return { toasts, push };
}

export function Toasts({ toasts }: { toasts: Toast[] }) {
  return (
    <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
      {toasts.map((t) => (
        <p key={t.id} className={`toast ${t.tone === 'error' ? 'is-error' : ''}`}>
          {t.text}
        </p>
      ))}
    </div>
  );
}
