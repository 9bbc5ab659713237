import { useTranslation } from 'react-i18next';
import { useMemo, useState } from 'react';
import { useMediaQuery } from '../hooks/useMeeting';
import { useQuality, ViewsContext } from '../hooks/useViews';
import type { Meeting, MeetingState } from '../lib/meeting';
import type { DeviceList } from '../lib/media';
import { buildTiles } from '../lib/participants';
import type { Role } from '../lib/protocol';
import { unreachableMessage } from '../lib/signaling';
import { STATUS } from '../lib/status';
import { CallGrid } from './CallGrid';
import { ChatPanel } from './ChatPanel';
import { ConnectionBanner } from './ConnectionBanner';
import { ControlBar } from './ControlBar';
import { copyText } from './clipboard';
import { Icon } from './icons';
import { PeopleList } from './PeopleList';
import { RecBadge } from './RecBadge';
import { SettingsPanel } from './SettingsPanel';
import { SidePanel } from './SidePanel';
import { Toasts, type Toast } from './Toasts';
import { RemoteAudio } from './VideoTile';

export type Panel = 'chat' | 'people' | 'settings' | null;

/** Whether this browser can share a screen. */
export function canShareScreen(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
}

/** The in-call screen of a meeting: tiles, control bar, chat and people panels, notices. */
export function Call({
  room,
  link,
  meeting,
  state,
  camera,
  screen,
  micOn,
  camOn,
  hasMic,
  hasCam,
  panel,
  unread,
  toasts,
  onPanel,
  onMic,
  onCam,
  onShare,
  onLeave,
  onCopied,
  devices,
  onDevice,
  onLeaveStage,
  onRecord,
}: {
  room: string;
  link: string;
  meeting: Meeting;
  state: MeetingState;
  camera: MediaStream | null;
  screen: MediaStream | null;
  micOn: boolean;
  camOn: boolean;
  hasMic: boolean;
  hasCam: boolean;
  panel: Panel;
  unread: number;
  toasts: Toast[];
  onPanel: (p: Panel) => void;
  onMic: () => void;
  onCam: () => void;
  onShare: () => void;
  onLeave: () => void;
  onCopied: (ok: boolean) => void;
  devices: DeviceList;
  onDevice: (kind: 'audio' | 'video', deviceId: string) => void;
  /** Set for a guest who took an invitation to the stage. */
  onLeaveStage?: () => void;
  /** Record / Stop recording (the host). */
  onRecord: () => void;
}) {
  const { t } = useTranslation();
  const narrow = useMediaQuery('(max-width: 600px)');
  const [quality, setQuality] = useQuality(meeting.views);
  const [copying, setCopying] = useState(false);
  const self = state.selfId;
  const onStage = state.role === 'stage';
  const amHost = state.participants.some((p) => p.id === self && p.host);

  const { cameras, screens } = useMemo(
    () => buildTiles(state.participants, self, state.remote, { camera, screen }),
    [state.participants, self, state.remote, camera, screen],
  );
  const audio = useMemo(() => {
    const out: MediaStream[] = [];
    for (const list of state.remote.values()) {
      for (const r of list) if (r.stream.getTracks().some((t) => t.kind === 'audio')) out.push(r.stream);
    }
    return out;
  }, [state.remote]);

  const joined = state.status === 'joined';
  // A media path that broke is being mended (ICE restart); the call goes on.
  const mending = joined && (state.publishing === 'reconnecting' || state.receiving === 'reconnecting');
  const status =
    mending || state.status === 'reconnecting'
      ? STATUS.reconnecting
      : joined
        ? t('call.inCall')
        : state.status === 'auth'
          ? STATUS.password
          : STATUS.connecting;

  const reconnecting = !joined && state.status !== 'auth' && (state.status === 'reconnecting' || state.unreachable);
  const showBanner = reconnecting || mending;
  // Until someone else comes: the link to bring them.
  const alone = joined && onStage && !state.participants.some((p) => p.id !== self) && (state.viewers ?? 0) === 0;

  function copy() {
    setCopying(true);
    void copyText(link).then((ok) => {
      setCopying(false);
      onCopied(ok);
    });
  }

  return (
    <ViewsContext.Provider value={meeting.views}>
      <div className={`call ${panel ? 'has-panel' : ''}`}>
        <div className="call-main">
          <section className={`call-stage ${state.recording ? 'has-rec' : ''}`} aria-label={t('call.stage')}>
            {state.recording && <RecBadge recording={state.recording} className="call-rec" />}
            {!joined && !showBanner && (
              <div className="call-banner" role="status">
                <span className="status-pill is-busy">{status}</span>
              </div>
            )}
            {showBanner && (
              <ConnectionBanner
                reason={
                  state.unreachable
                    ? unreachableMessage(location.host)
                    : mending
                      ? t('banner.mediaPath')
                      : t('banner.socket')
                }
                next={t('banner.callNext')}
              />
            )}
            {alone && (
              <section className="alone-card" data-testid="alone" aria-labelledby="alone-title">
                <h2 id="alone-title">{t('call.aloneTitle')}</h2>
                <p>{t('call.aloneText')}</p>
                <p className="alone-link">
                  <span className="people-url">{link}</span>
                </p>
                <button type="button" className="btn btn-small btn-tonal" disabled={copying} onClick={copy}>
                  <Icon name="copy" />
                  {t('prejoin.copyLink')}
                </button>
              </section>
            )}
            <p className="visually-hidden" data-testid="status" role="status">
              {status}
            </p>
            {cameras.length === 0 && joined ? (
              <div className="call-empty">
                <p>{t('call.emptyStage')}</p>
              </div>
            ) : (
              <CallGrid
                cameras={cameras}
                screens={screens}
                speaker={state.speaker}
                self={{ audio: micOn && hasMic, video: camOn && hasCam }}
                narrow={narrow}
                onStopPresenting={onShare}
              />
            )}
            {!onStage && joined && (
              <p className="call-watching">
                <Icon name="people" />
                {t('call.watching')}
              </p>
            )}
          </section>
          {panel === 'chat' && (
            <ChatPanel
              messages={state.chat}
              canSend={joined}
              onSend={(t) => meeting.sendChat(t)}
              onClose={() => onPanel(null)}
            />
          )}
          {panel === 'people' && (
            <SidePanel title={t('call.people')} onClose={() => onPanel(null)} testId="people-panel">
              <div className="people-link">
                <button
                  type="button"
                  className="btn btn-small btn-tonal"
                  disabled={copying}
                  onClick={copy}
                >
                  <Icon name="link" />
                  {t('prejoin.copyLink')}
                </button>
                <span className="people-url">{link}</span>
              </div>
              <PeopleList
                participants={state.participants}
                selfId={self}
                amHost={amHost}
                sendBackWords="moveToAudience"
                hiddenAudience={state.viewers ?? 0}
                onRole={(id: string, role: Role) => meeting.setRole(id, role)}
              />
            </SidePanel>
          )}
          {panel === 'settings' && (
            <SettingsPanel
              devices={devices}
              camera={onStage ? camera : null}
              onDevice={onDevice}
              quality={quality}
              onQuality={setQuality}
              onClose={() => onPanel(null)}
            />
          )}
        </div>
        <Toasts toasts={toasts} />
        <RemoteAudio streams={audio} />
        <ControlBar
          room={room}
          micOn={micOn}
          camOn={camOn}
          hasMic={hasMic && onStage}
          hasCam={hasCam && onStage}
          sharing={state.media.screen !== ''}
          canShare={onStage && joined && canShareScreen()}
          chatOpen={panel === 'chat'}
          peopleOpen={panel === 'people'}
          settingsOpen={panel === 'settings'}
          unread={unread}
          people={state.participants.length}
          onMic={onMic}
          onCam={onCam}
          onShare={onShare}
          onChat={() => onPanel(panel === 'chat' ? null : 'chat')}
          onPeople={() => onPanel(panel === 'people' ? null : 'people')}
          onSettings={() => onPanel(panel === 'settings' ? null : 'settings')}
          onLeaveStage={onStage && joined ? onLeaveStage : undefined}
          onLeave={onLeave}
          onRecord={amHost && joined ? onRecord : undefined}
          recording={state.recording !== null}
        />
      </div>
    </ViewsContext.Provider>
  );
}
