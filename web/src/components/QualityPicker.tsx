import { useTranslation } from 'react-i18next';
import { useId } from 'react';
import type { Quality } from '../lib/protocol';
import { QUALITIES } from '../lib/views';

/** A labelled <select> of the received video quality: Auto (the default), High, Medium, Low. */
export function QualityPicker({
  value,
  onChange,
  compact = false,
}: {
  value: Quality;
  onChange: (q: Quality) => void;
  /** Label and select on one line, for a row of controls. */
  compact?: boolean;
}) {
  const { t } = useTranslation();
  const id = useId();
  return (
    <div className={compact ? 'field field-inline' : 'field'} title={t('quality.tip')}>
      <label htmlFor={id}>{t('quality.label')}</label>
      <select id={id} value={value} data-testid="quality" onChange={(e) => onChange(e.target.value as Quality)}>
        {QUALITIES.map((q) => (
          <option key={q} value={q}>
            {t(`quality.${q}`)}
          </option>
        ))}
      </select>
    </div>
  );
}
