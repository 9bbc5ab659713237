import { useEffect, useMemo, useState } from 'react';
import { DevicePicker } from '../components/DevicePicker';
import { Icon } from '../components/icons';
import { MediaNotices, Notice } from '../components/Notice';
import { PasswordDialog } from '../components/PasswordDialog';
import { PeopleList } from '../components/PeopleList';
import { ShareLink } from '../components/ShareLink';
import { TopBar } from '../components/TopBar';
import { RemoteAudio, StreamVideo, VideoTile } from '../components/VideoTile';
import { trackOf, useLocalMedia, useMuting, type Kind, type LocalMedia } from '../hooks/useLocalMedia';
import { useCredentials } from '../hooks/useMeeting';
import { useQuality, ViewsContext } from '../hooks/useViews';
import { buildTiles } from '../lib/participants';
import { loadName, loadQuality } from '../lib/prefs';
import { EMPTY_ROOM, Publisher, type PublisherRoom, type PublisherState } from '../lib/publisher';
import { viewerUrl } from '../lib/rooms';
import { signalingUrl } from '../lib/signaling';
import { streamerStatus, viewerCountText } from '../lib/status';

const IDLE: PublisherState = { status: 'idle', error: null, notice: null, viewers: null, auth: null };

/** The streamer page: camera preview, device pickers, Go live / Stop. */
export function Streamer({ room }: { room: string }) {
  const media = useLocalMedia();
  const { stream, streamRef } = media;
  const [pub, setPub] = useState<PublisherState>(IDLE);
  const [roomState, setRoomState] = useState<PublisherRoom>(EMPTY_ROOM);
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const credentials = useCredentials();
  const mic = trackOf(stream, 'audio');
  const cam = trackOf(stream, 'video');

  const publisher = useMemo(
    () =>
      new Publisher({
        room,
        signalingUrl: signalingUrl(location),
        host: location.host,
        getStream: () => streamRef.current ?? new MediaStream(),
        name: loadName() || 'Streamer',
        credentials,
        onChange: setPub,
        onRoom: setRoomState,
        quality: loadQuality(),
      }),
    [room, streamRef, credentials],
  );
  useEffect(() => () => publisher.stop(), [publisher]);
  // The guests' videos: the remembered quality, nothing while the tab is hidden.
  useQuality(publisher.views);

  useMuting(publisher, mic, cam, micOn, camOn);

  const started = pub.status === 'connecting' || pub.status === 'live' || pub.status === 'reconnecting';
  const status = streamerStatus(pub, media.problem?.summary ?? null);
  const hasMedia = stream !== null && stream.getTracks().length > 0;

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
        <a className="topbar-link" href="/meet" title="Start or join a meeting">
          <Icon name="people" />
          Meetings
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
                <span>{cam ? 'Camera is off' : 'Audio only'}</span>
              </div>
            )}
            {!stream && (
              <div className="stage-placeholder" aria-hidden="true">
                <Icon name="cam" />
                <span>{media.opening ? 'Starting camera…' : 'No camera'}</span>
              </div>
            )}
            <div className="stage-badges">
              <p data-testid="status" role="status" className={`status-pill ${statusClass}`}>
                <span className="status-text">{status}</span>
              </p>
              {started && pub.viewers !== null && (
                <p className="count-pill" data-testid="viewer-count">
                  <Icon name="people" />
                  {viewerCountText(pub.viewers)}
                </p>
              )}
            </div>
          </section>

          {guestTiles.length > 0 && (
            <ViewsContext.Provider value={publisher.views}>
              <div className="guest-row" aria-label="Guests on stage">
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

          <div className="controls" role="group" aria-label="Controls">
            {mic && (
              <button
                type="button"
                className={`btn-round ${micOn ? '' : 'is-off'}`}
                title={micOn ? 'Turn off microphone' : 'Turn on microphone'}
                onClick={() => setMicOn(!micOn)}
              >
                <Icon name={micOn ? 'mic' : 'micOff'} />
                <span className="visually-hidden">{micOn ? 'Turn off microphone' : 'Turn on microphone'}</span>
              </button>
            )}
            {cam && (
              <button
                type="button"
                className={`btn-round ${camOn ? '' : 'is-off'}`}
                title={camOn ? 'Turn off camera' : 'Turn on camera'}
                onClick={() => setCamOn(!camOn)}
              >
                <Icon name={camOn ? 'cam' : 'camOff'} />
                <span className="visually-hidden">{camOn ? 'Turn off camera' : 'Turn on camera'}</span>
              </button>
            )}
            {started ? (
              <button type="button" className="btn btn-danger" onClick={() => publisher.stop()}>
                <Icon name="stop" />
                Stop
              </button>
            ) : (
              <button
                type="button"
                className="btn btn-primary"
                disabled={!hasMedia}
                onClick={() => publisher.start()}
              >
                <Icon name="live" />
                Go live
              </button>
            )}
          </div>
        </div>

        <aside className="side">
          <Explanations pub={pub} media={media} />
          <ShareLink url={url} />
          <section className="card" aria-labelledby="people-title" data-testid="people-card">
            <h2 id="people-title" className="card-title">
              Participants
            </h2>
            {started && roomState.selfId ? (
              <>
                <p className="card-text">
                  Invite a viewer to the stage: everyone then sees and hears them next to you.
                </p>
                <PeopleList
                  participants={roomState.participants}
                  selfId={roomState.selfId}
                  amHost={roomState.participants.some((p) => p.id === roomState.selfId && p.host)}
                  sendBackWords="Send back"
                  hiddenAudience={Math.max(viewers, pub.viewers ?? 0)}
                  onRole={(id, role) => publisher.setRole(id, role)}
                />
              </>
            ) : (
              <p className="card-text">Go live to see who is watching and invite viewers onto the stage.</p>
            )}
          </section>
          <section className="card" aria-labelledby="devices-title">
            <h2 id="devices-title" className="card-title">
              Devices
            </h2>
            <DevicePicker
              label="Camera"
              devices={media.devices.cameras}
              value={cam?.getSettings().deviceId ?? ''}
              onChange={(id) => void changeDevice('video', id)}
            />
            <DevicePicker
              label="Microphone"
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
    </div>
  );
}

/** The boxes that explain errors and other things worth knowing. */
function Explanations({ pub, media }: { pub: PublisherState; media: LocalMedia }) {
  return (
    <>
      {pub.status === 'error' && pub.error && (
        <Notice tone="error" title={pub.error}>
          <p>
            {pub.error.startsWith('Cannot reach')
              ? 'Check that meetd is running and that this address is right, then press Go live again.'
              : 'Press Go live to try again.'}
          </p>
        </Notice>
      )}
      {pub.status === 'reconnecting' && pub.notice && (
        <Notice tone="info" title="Reconnecting">
          <p>{pub.notice} Trying again shortly; press Stop to give up.</p>
        </Notice>
      )}
      {pub.status === 'live' && pub.notice && (
        <Notice tone="info" title="Message from the server">
          <p>{pub.notice}</p>
        </Notice>
      )}
      <MediaNotices media={media} />
    </>
  );
}
