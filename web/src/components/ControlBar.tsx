import { useEffect, useState } from 'react';
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
  name: 'Microphone' | 'Camera';
  icon: IconName;
  offIcon: IconName;
  on: boolean;
  present: boolean;
  onClick: () => void;
}) {
  const device = name.toLowerCase();
  return (
    <Toggle
      name={name}
      on={on && present}
      icon={on && present ? icon : offIcon}
      tip={!present ? `No ${device}` : on ? `Turn off ${device}` : `Turn on ${device}`}
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
  return <>{now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</>;
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
}

/** The bar at the bottom of a call. */
export function ControlBar(p: ControlBarProps) {
  return (
    <footer className="controlbar">
      <p className="controlbar-info">
        <Clock />
        <span aria-hidden="true"> | </span>
        <span className="controlbar-room">{p.room}</span>
      </p>
      <div className="controlbar-main" role="group" aria-label="Call controls">
        <DeviceToggle name="Microphone" icon="mic" offIcon="micOff" on={p.micOn} present={p.hasMic} onClick={p.onMic} />
        <DeviceToggle name="Camera" icon="cam" offIcon="camOff" on={p.camOn} present={p.hasCam} onClick={p.onCam} />
        <Toggle
          name="Share screen"
          on={p.sharing}
          icon={p.sharing ? 'screenOff' : 'screen'}
          accent
          tip={p.sharing ? 'Stop presenting' : p.canShare ? 'Present your screen' : 'Screen sharing is not available'}
          disabled={!p.canShare && !p.sharing}
          onClick={p.onShare}
        />
        {p.onLeaveStage && (
          <button type="button" className="ctl" title="Go back to watching" onClick={p.onLeaveStage}>
            <Icon name="personRemove" />
            <span className="visually-hidden">Leave stage</span>
          </button>
        )}
        <button type="button" className="ctl ctl-leave" title="Leave the call" onClick={p.onLeave}>
          <Icon name="callEnd" />
          <span className="visually-hidden">Leave</span>
        </button>
      </div>
      <div className="controlbar-side" role="group" aria-label="Panels">
        <Toggle
          name="Chat"
          on={p.chatOpen}
          icon="chat"
          tip={p.unread > 0 ? `Chat (${p.unread} unread)` : 'Chat with everyone'}
          badge={p.unread > 0 ? (p.unread > 9 ? '9+' : String(p.unread)) : undefined}
          onClick={p.onChat}
        />
        <Toggle
          name="Participants"
          on={p.peopleOpen}
          icon="people"
          tip="Show everyone"
          badge={p.people > 0 ? String(p.people) : undefined}
          quietBadge
          onClick={p.onPeople}
        />
        <Toggle name="Settings" on={p.settingsOpen} icon="settings" tip="Camera and microphone" onClick={p.onSettings} />
      </div>
    </footer>
  );
}
