import { useId } from 'react';

/** A labelled <select> of cameras or microphones. */
export function DevicePicker({
  label,
  devices,
  value,
  disabled,
  onChange,
}: {
  label: 'Camera' | 'Microphone';
  devices: MediaDeviceInfo[];
  value: string;
  disabled?: boolean;
  onChange: (deviceId: string) => void;
}) {
  const id = useId();
  const none = devices.length === 0;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={none ? '' : value}
        disabled={disabled || none}
        onChange={(e) => onChange(e.target.value)}
      >
        {none && <option value="">{label === 'Camera' ? 'No camera found' : 'No microphone found'}</option>}
        {!none && !devices.some((d) => d.deviceId === value) && <option value="">Choose…</option>}
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
      </select>
    </div>
  );
}
