import { useTranslation } from 'react-i18next';
import { useId } from 'react';

/** A labelled <select> of cameras or microphones. */
export function DevicePicker({
  label,
  devices,
  value,
  disabled,
  onChange,
}: {
  label: 'camera' | 'microphone';
  devices: MediaDeviceInfo[];
  value: string;
  disabled?: boolean;
  onChange: (deviceId: string) => void;
}) {
  const { t } = useTranslation();
  const id = useId();
  const none = devices.length === 0;
  return (
    <div className="field">
      <label htmlFor={id}>{t(`devices.${label}`)}</label>
      <select
        id={id}
        value={none ? '' : value}
        disabled={disabled || none}
        onChange={(e) => onChange(e.target.value)}
      >
        {none && <option value="">{t(`devices.none_${label}`)}</option>}
        {!none && !devices.some((d) => d.deviceId === value) && <option value="">{t('devices.choose')}</option>}
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || t(`devices.numbered_${label}`, { n: i + 1 })}
          </option>
        ))}
      </select>
    </div>
  );
}
