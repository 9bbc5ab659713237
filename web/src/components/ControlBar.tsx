import { useTranslation } from 'react-i18next';
import { useEffect, useState } from 'react';
import { formatClock } from '../i18n';
import { shortcutLabel } from '../lib/shortcuts';
import { Icon, type IconName } from './icons';

/** A round on/off button whose accessible name stays the same; aria-pressed says the state. */
function Toggle({
  name,
  on,
  icon,
  tip,
  danger,
  accent,
  disabled,
  badge,
  quietBadge,
  onClick,
}: {
  name: string;
  on: boolean;
  icon: IconName;
  tip: string;
  /** Shows "off" in red (microphone and camera). */
  danger?: boolean;
  /** Shows "on" in the accent colour (presenting). */
  accent?: boolean;
  disabled?: boolean;
  badge?: string;
  /** A plain count rather than something new. */
  quietBadge?: boolean;
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      className={`ctl ${on ? 'is-on' : ''} ${danger && !on ? 'is-off' : ''} ${accent && on ? 'is-accent' : ''}`}
      aria-pressed={on}
      title={tip}
      disabled={disabled}
      onClick={onClick}
    >
      <Icon name={icon} />
      <span className="visually-hidden">{name}</span>
      {badge && (
        <span className={`ctl-badge ${quietBadge ? 'is-quiet' : ''}`} aria-hidden="true">
          {badge}
        </span>
      )}
    </button>
  );
}

/** The microphone or the camera: red when off, disabled when there is none. */
function DeviceToggle({
  name,
  icon,
  offIcon,
  on,
  present,
  onClick,
}: {
  name: 'microphone' | 'camera';
  icon: IconName;
  offIcon: IconName;
  on: boolean;
  present: boolean;
  onClick: () => void;
}) {
  const { t } = useTranslation();
  const keys = shortcutLabel(name === 'microphone' ? 'd' : 'e');
  return (
    <Toggle
      name={t(`devices.${name}`)}
      on={on && present}
      icon={on && present ? icon : offIcon}
      tip={!present ? t(`controls.no_${name}`) : t(`controls.${on ? 'turnOff' : 'turnOn'}_${name}`) + ` (${keys})`}
      danger
      disabled={!present}
      onClick={onClick}
    />
  );
}

function Clock() {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 15_000);
    return () => clearInterval(t);
  }, []);
  return <>{formatClock(now)}</>;
}

export interface ControlBarProps {
  room: string;
  micOn: boolean;
  camOn: boolean;
  hasMic: boolean;
  hasCam: boolean;
  sharing: boolean;
  /** Screen share is possible (on stage, and the browser can). */
  canShare: boolean;
  chatOpen: boolean;
  peopleOpen: boolean;
  settingsOpen: boolean;
  unread: number;
  people: number;
  onMic: () => void;
  onCam: () => void;
  onShare: () => void;
  onChat: () => void;
  onPeople: () => void;
  onSettings: () => void;
  /** Back to the audience; only for a guest who took an invitation to the stage. */
  onLeaveStage?: () => void;
  onLeave: () => void;
  /** Record / Stop recording; only for the host. */
  onRecord?: () => void;
  /** The room is being recorded. */
  recording?: boolean;
}

/** The bar at the bottom of a call. */
export function ControlBar(p: ControlBarProps) {
  const { t } = useTranslation();
  return (
    <footer className="controlbar">
      <p className="controlbar-info">
        <Clock />
        <span aria-hidden="true"> | </span>
        <span className="controlbar-room">{p.room}</span>
      </p>
      <div className="controlbar-main" role="group" aria-label={t('controls.group')}>
        <DeviceToggle name="microphone" icon="mic" offIcon="micOff" on={p.micOn} present={p.hasMic} onClick={p.onMic} />
        <DeviceToggle name="camera" icon="cam" offIcon="camOff" on={p.camOn} present={p.hasCam} onClick={p.onCam} />
        <Toggle
          name={t('controls.share')}
          on={p.sharing}
          icon={p.sharing ? 'screenOff' : 'screen'}
          accent
          tip={p.sharing ? t('controls.stopPresenting') : p.canShare ? t('controls.present') : t('controls.noShare')}
          disabled={!p.canShare && !p.sharing}
          onClick={p.onShare}
        />
        {p.onRecord && (
          <button
            type="button"
            className={`ctl ctl-record ${p.recording ? 'is-recording' : ''}`}
            title={p.recording ? t('recording.stopTip') : t('recording.recordTip')}
            onClick={p.onRecord}
          >
            <Icon name={p.recording ? 'stop' : 'record'} />
            <span className="visually-hidden">{p.recording ? t('recording.stop') : t('recording.record')}</span>
          </button>
        )}
        {p.onLeaveStage && (
          <button type="button" className="ctl" title={t('controls.leaveStageTip')} onClick={p.onLeaveStage}>
            <Icon name="personRemove" />
            <span className="visually-hidden">{t('controls.leaveStage')}</span>
          </button>
        )}
        <button type="button" className="ctl ctl-leave" title={t('controls.leaveTip')} onClick={p.onLeave}>
          <Icon name="callEnd" />
          <span className="visually-hidden">{t('controls.leave')}</span>
        </button>
      </div>
      <div className="controlbar-side" role="group" aria-label={t('controls.panels')}>
        <Toggle
          name={t('controls.chat')}
          on={p.chatOpen}
          icon="chat"
          tip={p.unread > 0 ? t('controls.chatUnread', { count: p.unread }) : t('controls.chatTip')}
          badge={p.unread > 0 ? (p.unread > 9 ? '9+' : String(p.unread)) : undefined}
          onClick={p.onChat}
        />
        <Toggle
          name={t('controls.people')}
          on={p.peopleOpen}
          icon="people"
          tip={t('controls.peopleTip')}
          badge={p.people > 0 ? String(p.people) : undefined}
          quietBadge
          onClick={p.onPeople}
        />
        <Toggle
          name={t('controls.settings')}
          on={p.settingsOpen}
          icon="settings"
          tip={t('controls.settingsTip')}
          onClick={p.onSettings}
        />
      </div>
    </footer>
  );
}
