import { useId } from 'react';
import type { Quality } from '../lib/protocol';
import { QUALITIES } from '../lib/views';

const WORDS: Record<Quality, string> = {
  auto: 'Auto',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
};

const TIP =
  'Auto fits the video to its size on your screen. High, Medium and Low cap it, ' +
  'to save data or to get the sharpest picture the sender offers.';

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
  const id = useId();
  return (
    <div className={compact ? 'field field-inline' : 'field'} title={TIP}>
      <label htmlFor={id}>Quality</label>
      <select id={id} value={value} data-testid="quality" onChange={(e) => onChange(e.target.value as Quality)}>
        {QUALITIES.map((q) => (
          <option key={q} value={q}>
            {WORDS[q]}
          </option>
        ))}
      </select>
    </div>
  );
}
