import { useTranslation } from 'react-i18next';
import { useEffect, useState, type FormEvent } from 'react';
import { trackOf, type LocalMedia } from '../hooks/useLocalMedia';
import { copyText } from './clipboard';
import { DevicePicker } from './DevicePicker';
import { Icon } from './icons';
import { MediaNotices, Notice } from './Notice';
import { StreamVideo } from './VideoTile';

/**
 * Before joining a meeting: a preview of one's camera, device pickers, mic and
 * camera on or off, a name, and Join now (or join as a viewer).
 */
export function PreJoin({
  room,
  link,
  media,
  micOn,
  camOn,
  onMic,
  onCam,
  name,
  onName,
  problem,
  onJoin,
}: {
  room: string;
  link: string;
  media: LocalMedia;
  micOn: boolean;
  camOn: boolean;
  onMic: () => void;
  onCam: () => void;
  name: string;
  onName: (name: string) => void;
  /** Why the last try to join failed, if it did. */
  problem: { title: string; text: string } | null;
  onJoin: (role: 'stage' | 'audience') => void;
}) {
  const { t } = useTranslation();
  const { stream } = media;
  const [copied, setCopied] = useState<string | null>(null);
  const mic = trackOf(stream, 'audio');
  const cam = trackOf(stream, 'video');

  useEffect(() => {
    if (copied === null) return;
    const t = setTimeout(() => setCopied(null), 2500);
    return () => clearTimeout(t);
  }, [copied]);

  function submit(e: FormEvent) {
    e.preventDefault();
    onJoin('stage');
  }

  const status = media.opening
    ? t('media.starting')
    : media.problem
      ? t('status.error', { words: media.problem.summary })
      : t('status.preview');

  return (
    <main className="prejoin">
      <section className="prejoin-preview">
        <div className="stage prejoin-stage">
          <StreamVideo stream={stream} className="stage-video cover mirror" testId="local-video" />
          {(!stream || !cam || !camOn) && (
            <div className="stage-placeholder" aria-hidden="true">
              <Icon name={camOn && !media.problem ? 'cam' : 'camOff'} />
              <span>{media.opening ? t('media.starting') : !cam ? t('media.noCamera') : t('media.cameraOff')}</span>
            </div>
          )}
          <p className="prejoin-you">{name.trim() || t('chat.you')}</p>
          <p className="visually-hidden" data-testid="status" role="status">
            {status}
          </p>
          <div className="prejoin-toggles" role="group" aria-label={t('prejoin.toggles')}>
            <button
              type="button"
              className={`ctl ${micOn && mic ? 'is-on' : 'is-off'}`}
              aria-pressed={micOn && mic !== null}
              disabled={!mic}
              title={t(micOn ? 'controls.turnOff_microphone' : 'controls.turnOn_microphone')}
              onClick={onMic}
            >
              <Icon name={micOn && mic ? 'mic' : 'micOff'} />
              <span className="visually-hidden">{t('devices.microphone')}</span>
            </button>
            <button
              type="button"
              className={`ctl ${camOn && cam ? 'is-on' : 'is-off'}`}
              aria-pressed={camOn && cam !== null}
              disabled={!cam}
              title={t(camOn ? 'controls.turnOff_camera' : 'controls.turnOn_camera')}
              onClick={onCam}
            >
              <Icon name={camOn && cam ? 'cam' : 'camOff'} />
              <span className="visually-hidden">{t('devices.camera')}</span>
            </button>
          </div>
        </div>
        <div className="prejoin-devices">
          <DevicePicker
            label="camera"
            devices={media.devices.cameras}
            value={cam?.getSettings().deviceId ?? ''}
            onChange={(id) => id && void media.switchDevice('video', id)}
          />
          <DevicePicker
            label="microphone"
            devices={media.devices.microphones}
            value={mic?.getSettings().deviceId ?? ''}
            onChange={(id) => id && void media.switchDevice('audio', id)}
          />
        </div>
      </section>

      <section className="prejoin-side">
        <h1>{t('prejoin.title')}</h1>
        <p className="prejoin-room">
          {t('topbar.meeting')} <strong data-testid="room-name">{room}</strong>
        </p>
        {problem && (
          <Notice tone="error" title={problem.title}>
            <p>{problem.text}</p>
          </Notice>
        )}
        <form className="prejoin-form" onSubmit={submit}>
          <div className="field">
            <label htmlFor="display-name">{t('prejoin.name')}</label>
            <input
              id="display-name"
              type="text"
              autoComplete="name"
              maxLength={64}
              placeholder={t('prejoin.namePlaceholder')}
              value={name}
              onChange={(e) => onName(e.target.value)}
            />
          </div>
          <button type="submit" className="btn btn-primary btn-wide">
            {t('prejoin.join')}
          </button>
          <button type="button" className="btn btn-tonal btn-wide" onClick={() => onJoin('audience')}>
            {t('prejoin.joinViewer')}
          </button>
        </form>
        <div className="prejoin-link">
          <span className="prejoin-url" data-testid="meeting-link">
            {link}
          </span>
          <button
            type="button"
            className="btn btn-small btn-tonal"
            onClick={() => void copyText(link).then((ok) => setCopied(ok ? t('share.copied') : t('prejoin.copyFailed')))}
          >
            <Icon name="copy" />
            {t('prejoin.copyLink')}
          </button>
          <span className="share-feedback" aria-live="polite">
            {copied ?? ''}
          </span>
        </div>
        <MediaNotices media={media}>
          <p>{t('prejoin.stillJoin')}</p>
        </MediaNotices>
      </section>
    </main>
  );
}
