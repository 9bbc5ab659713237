import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { hiddenAfter } from '../lib/filmstrip';

/**
 * The strip of people beside a presented screen. When it holds more than it
 * shows, a "+N more" hint at its end says so and scrolls on when clicked.
 */
export function Filmstrip({ items, horizontal }: { items: { key: string; node: ReactNode }[]; horizontal: boolean }) {
  const { t } = useTranslation();
  const ref = useRef<HTMLDivElement>(null);
  const [more, setMore] = useState(0);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => {
      const box = el.getBoundingClientRect();
      const end = horizontal ? box.right : box.bottom;
      const starts = [...el.querySelectorAll<HTMLElement>('.filmstrip-item')].map((item) => {
        const r = item.getBoundingClientRect();
        return horizontal ? r.right : r.bottom;
      });
      setMore(hiddenAfter(starts, end));
    };
    measure();
    el.addEventListener('scroll', measure, { passive: true });
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(measure) : null;
    ro?.observe(el);
    return () => {
      el.removeEventListener('scroll', measure);
      ro?.disconnect();
    };
  }, [horizontal, items.length]);

  return (
    <div className="filmstrip-wrap">
      <div className="filmstrip" role="list" aria-label={t('call.people')} ref={ref}>
        {items.map((i) => (
          <div role="listitem" key={i.key} className="filmstrip-item">
            {i.node}
          </div>
        ))}
      </div>
      {more > 0 && (
        <button
          type="button"
          className="filmstrip-more"
          data-testid="filmstrip-more"
          onClick={() => {
            const el = ref.current;
            if (el) el.scrollBy({ [horizontal ? 'left' : 'top']: horizontal ? el.clientWidth : el.clientHeight, behavior: 'smooth' });
          }}
        >
          {t('call.more', { count: more })}
        </button>
      )}
    </div>
  );
}
