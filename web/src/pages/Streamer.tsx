import { useTranslation } from 'react-i18next';
import { useEffect, useMemo, useState } from 'react';
import { DevicePicker } from '../components/DevicePicker';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { Icon } from '../components/icons';
import { LiveBadge, useLiveSince } from '../components/LiveBadge';
import { MediaNotices, Notice } from '../components/Notice';
import { PasswordDialog } from '../components/PasswordDialog';
import { PeopleList } from '../components/PeopleList';
import { RecBadge } from '../components/RecBadge';
import { StopRecordingDialog } from '../components/StopRecordingDialog';
import { Toasts, useToasts } from '../components/Toasts';
import { ShareLink } from '../components/ShareLink';
import { TopBar } from '../components/TopBar';
import { RemoteAudio, StreamVideo, VideoTile } from '../components/VideoTile';
import { trackOf, useLocalMedia, useMuting, type Kind, type LocalMedia } from '../hooks/useLocalMedia';
import { useCredentials } from '../hooks/useMeeting';
import { useTitle } from '../hooks/useTitle';
import { useQuality, ViewsContext } from '../hooks/useViews';
import { buildTiles } from '../lib/participants';
import { loadName, loadQuality } from '../lib/prefs';
import { recordingEventText } from '../lib/recording';
import { EMPTY_ROOM, Publisher, type PublisherRoom, type PublisherState } from '../lib/publisher';
import { viewerUrl } from '../lib/rooms';
import { signalingUrl, unreachableMessage } from '../lib/signaling';
import { streamerStatus, viewerCountText } from '../lib/status';

const IDLE: PublisherState = { status: 'idle', error: null, notice: null, viewers: null, auth: null };

/** The streamer page: camera preview, device pickers, Go live / Stop. */
export function Streamer({ room }: { room: string }) {
  const { t } = useTranslation();
  const media = useLocalMedia();
  const { stream, streamRef } = media;
  const [pub, setPub] = useState<PublisherState>(IDLE);
  const [roomState, setRoomState] = useState<PublisherRoom>(EMPTY_ROOM);
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const credentials = useCredentials();
  const mic = trackOf(stream, 'audio');
  const cam = trackOf(stream, 'video');
  const { toasts, push } = useToasts();
  const [confirmStop, setConfirmStop] = useState(false);

  const publisher = useMemo(
    () =>
      new Publisher({
        room,
        signalingUrl: signalingUrl(location),
        host: location.host,
        getStream: () => streamRef.current ?? new MediaStream(),
        name: loadName() || t('streamer.defaultName'),
        credentials,
        onChange: setPub,
        onRoom: setRoomState,
        onRecording: (e) => push(recordingEventText(e), e.type === 'refused' ? 'error' : 'info'),
        quality: loadQuality(),
      }),
    [room, streamRef, credentials, push],
  );
  useEffect(() => () => publisher.stop(), [publisher]);
  // The guests' videos: the remembered quality, nothing while the tab is hidden.
  useQuality(publisher.views);

  useMuting(publisher, mic, cam, micOn, camOn);

  const started = pub.status === 'connecting' || pub.status === 'live' || pub.status === 'reconnecting';
  const status = streamerStatus(pub, media.problem?.summary ?? null);
  const hasMedia = stream !== null && stream.getTracks().length > 0;
  const liveSince = useLiveSince(pub.status === 'live' || pub.status === 'reconnecting');
  useTitle(
    t(
      pub.status === 'live' ? 'titles.live' : pub.status === 'reconnecting' ? 'titles.reconnecting' : 'titles.streamer',
      { room },
    ),
  );

  async function changeDevice(kind: Kind, deviceId: string) {
    if (!deviceId) return;
    const track = await media.switchDevice(kind, deviceId);
    if (track) await publisher.replaceTrack(kind, track).catch(() => {});
  }

  const url = viewerUrl(location.origin, room);
  // Guests the streamer invited onto the stage.
  const guests = useMemo(
    () => buildTiles(roomState.participants, roomState.selfId, roomState.remote, { camera: null, screen: null }),
    [roomState],
  );
  const guestTiles = [...guests.cameras.filter((t) => !t.self), ...guests.screens];
  const guestAudio = useMemo(
    () =>
      [...roomState.remote.values()]
        .flat()
        .map((r) => r.stream)
        .filter((st) => st.getTracks().some((t) => t.kind === 'audio')),
    [roomState.remote],
  );
  const viewers = roomState.participants.filter((p) => p.role === 'audience').length;
  const amHost = roomState.participants.some((p) => p.id === roomState.selfId && p.host);
  const statusClass =
    pub.status === 'live'
      ? 'is-live'
      : started
        ? 'is-busy'
        : pub.status === 'error' || media.problem
          ? 'is-error'
          : '';

  return (
    <div className="app">
      <TopBar room={room}>
        <a className="topbar-link" href="/meet" title={t('notFound.meet')}>
          <Icon name="people" />
          {t('streamer.meetings')}
        </a>
      </TopBar>
      <main className="layout">
        <div className="stage-column">
          <section className="stage">
            {/* The preview: always muted, so the microphone never feeds back. */}
            <StreamVideo stream={stream} className="stage-video mirror" testId="local-video" />
            {stream && (!cam || !camOn) && (
              <div className="stage-placeholder" aria-hidden="true">
                <Icon name="camOff" />
                <span>{cam ? t('media.cameraOff') : t('media.audioOnlyShort')}</span>
              </div>
            )}
            {!stream && (
              <div className="stage-placeholder" aria-hidden="true">
                <Icon name="cam" />
                <span>{media.opening ? t('media.starting') : t('media.noCamera')}</span>
              </div>
            )}
            <div className="stage-badges">
              {liveSince !== null && <LiveBadge since={liveSince} />}
              {roomState.recording && <RecBadge recording={roomState.recording} />}
              <p data-testid="status" role="status" className={`status-pill ${statusClass}`}>
                <span className="status-text">{status}</span>
              </p>
              {/* The count while connected only: a stale one would contradict "Reconnecting". */}
              {pub.status === 'live' && pub.viewers !== null && (
                <p className="count-pill" data-testid="viewer-count">
                  <Icon name="people" />
                  {viewerCountText(pub.viewers)}
                </p>
              )}
            </div>
          </section>

          {guestTiles.length > 0 && (
            <ViewsContext.Provider value={publisher.views}>
              <div className="guest-row" aria-label={t('streamer.guests')}>
                {guestTiles.map((t) => (
                  <VideoTile
                    key={t.key}
                    tile={t}
                    speaking={roomState.speaker === t.participant.id}
                    videoOn={t.participant.video}
                    audioOn={t.participant.audio}
                  />
                ))}
              </div>
            </ViewsContext.Provider>
          )}
          <RemoteAudio streams={guestAudio} />

          <div className="controls" role="group" aria-label={t('streamer.controls')}>
            {mic && (
              <button
                type="button"
                className={`btn-round ${micOn ? '' : 'is-off'}`}
                title={t(micOn ? 'controls.turnOff_microphone' : 'controls.turnOn_microphone')}
                onClick={() => setMicOn(!micOn)}
              >
                <Icon name={micOn ? 'mic' : 'micOff'} />
                <span className="visually-hidden">
                  {t(micOn ? 'controls.turnOff_microphone' : 'controls.turnOn_microphone')}
                </span>
              </button>
            )}
            {cam && (
              <button
                type="button"
                className={`btn-round ${camOn ? '' : 'is-off'}`}
                title={t(camOn ? 'controls.turnOff_camera' : 'controls.turnOn_camera')}
                onClick={() => setCamOn(!camOn)}
              >
                <Icon name={camOn ? 'cam' : 'camOff'} />
                <span className="visually-hidden">{t(camOn ? 'controls.turnOff_camera' : 'controls.turnOn_camera')}</span>
              </button>
            )}
            {pub.status === 'live' && amHost && (
              <button
                type="button"
                className={`btn ${roomState.recording ? 'btn-danger' : 'btn-tonal'}`}
                title={roomState.recording ? t('recording.stopTip') : t('recording.recordTip')}
                onClick={() => (roomState.recording ? setConfirmStop(true) : void publisher.record(true))}
              >
                <Icon name={roomState.recording ? 'stop' : 'record'} />
                {roomState.recording ? t('recording.stop') : t('recording.record')}
              </button>
            )}
            {started ? (
              <button type="button" className="btn btn-danger" onClick={() => publisher.stop()}>
                <Icon name="stop" />
                {t('streamer.stop')}
              </button>
            ) : (
              <button
                type="button"
                className="btn btn-primary"
                disabled={!hasMedia}
                onClick={() => publisher.start()}
              >
                <Icon name="live" />
                {t('streamer.goLive')}
              </button>
            )}
          </div>
        </div>

        <aside className="side">
          <Explanations pub={pub} media={media} />
          <ShareLink url={url} />
          <section className="card" aria-labelledby="people-title" data-testid="people-card">
            <h2 id="people-title" className="card-title">
              {t('controls.people')}
            </h2>
            {pub.status === 'reconnecting' ? (
              <p className="card-text">{t('streamer.peopleReconnecting')}</p>
            ) : started && roomState.selfId ? (
              <>
                <p className="card-text">
                  {t('streamer.inviteHint')}
                </p>
                <PeopleList
                  participants={roomState.participants}
                  selfId={roomState.selfId}
                  amHost={amHost}
                  sendBackWords="sendBack"
                  hiddenAudience={Math.max(viewers, pub.viewers ?? 0)}
                  onRole={(id, role) => publisher.setRole(id, role)}
                />
              </>
            ) : (
              <p className="card-text">{t('streamer.goLiveHint')}</p>
            )}
          </section>
          <section className="card" aria-labelledby="devices-title">
            <h2 id="devices-title" className="card-title">
              {t('streamer.devices')}
            </h2>
            <DevicePicker
              label="camera"
              devices={media.devices.cameras}
              value={cam?.getSettings().deviceId ?? ''}
              onChange={(id) => void changeDevice('video', id)}
            />
            <DevicePicker
              label="microphone"
              devices={media.devices.microphones}
              value={mic?.getSettings().deviceId ?? ''}
              onChange={(id) => void changeDevice('audio', id)}
            />
          </section>
        </aside>
      </main>
      {pub.status === 'auth' && pub.auth && (
        <PasswordDialog
          prompt={pub.auth}
          onSubmit={(password) => publisher.authenticate(password)}
          onCancel={() => publisher.stop()}
        />
      )}
      {confirmStop && roomState.recording && (
        <StopRecordingDialog
          onStop={() => {
            setConfirmStop(false);
            publisher.record(false);
          }}
          onCancel={() => setConfirmStop(false)}
        />
      )}
      <Toasts toasts={toasts} />
    </div>
  );
}

/** The boxes that explain errors and other things worth knowing. */
function Explanations({ pub, media }: { pub: PublisherState; media: LocalMedia }) {
  const { t } = useTranslation();
  return (
    <>
      {pub.status === 'error' && pub.error && (
        <Notice tone="error" title={pub.error}>
          <p>{pub.error === unreachableMessage(location.host) ? t('streamer.unreachableHelp') : t('streamer.retryHelp')}</p>
        </Notice>
      )}
      {pub.status === 'reconnecting' && (
        <ConnectionBanner inline reason={pub.notice ?? t('banner.socket')} next={t('streamer.reconnecting')} />
      )}
      {pub.status === 'live' && pub.notice && (
        <Notice tone="info" title={t('streamer.serverMessage')}>
          <p>{pub.notice}</p>
        </Notice>
      )}
      <MediaNotices media={media} />
    </>
  );
}
