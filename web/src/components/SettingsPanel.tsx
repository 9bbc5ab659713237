import { useTranslation } from 'react-i18next';
import type { DeviceList } from '../lib/media';
import { shortcutLabel } from '../lib/shortcuts';
import type { Quality } from '../lib/protocol';
import { DevicePicker } from './DevicePicker';
import { LanguagePicker } from './LanguagePicker';
import { QualityPicker } from './QualityPicker';
import { SidePanel } from './SidePanel';

/**
 * Camera and microphone pickers during a call, and the quality of the videos
 * received. A new device goes out on the running connection; mute and
 * camera-off stay as they were.
 */
export function SettingsPanel({
  devices,
  camera,
  onDevice,
  quality,
  onQuality,
  onClose,
}: {
  devices: DeviceList;
  /** What is being sent; pickers are off while nothing is. */
  camera: MediaStream | null;
  onDevice: (kind: 'audio' | 'video', deviceId: string) => void;
  quality: Quality;
  onQuality: (q: Quality) => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const track = (kind: 'audio' | 'video') => camera?.getTracks().find((t) => t.kind === kind) ?? null;
  return (
    <SidePanel title={t('settings.title')} onClose={onClose} testId="settings-panel">
      <div className="settings-body">
        <DevicePicker
          label="camera"
          devices={devices.cameras}
          value={track('video')?.getSettings().deviceId ?? ''}
          disabled={!camera}
          onChange={(id) => id && onDevice('video', id)}
        />
        <DevicePicker
          label="microphone"
          devices={devices.microphones}
          value={track('audio')?.getSettings().deviceId ?? ''}
          disabled={!camera}
          onChange={(id) => id && onDevice('audio', id)}
        />
        {!camera && <p className="card-text">{t('settings.joinStage')}</p>}
        <QualityPicker value={quality} onChange={onQuality} />
        <LanguagePicker />
        <section className="shortcuts" aria-labelledby="shortcuts-title">
          <h3 id="shortcuts-title">{t('settings.shortcuts')}</h3>
          <dl>
            <dt>
              <kbd>{shortcutLabel('d')}</kbd>
            </dt>
            <dd>{t('settings.shortcutMic')}</dd>
            <dt>
              <kbd>{shortcutLabel('e')}</kbd>
            </dt>
            <dd>{t('settings.shortcutCam')}</dd>
            <dt>
              <kbd>Esc</kbd>
            </dt>
            <dd>{t('settings.shortcutEsc')}</dd>
          </dl>
        </section>
      </div>
    </SidePanel>
  );
}
