import { useTranslation } from 'react-i18next';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { Icon } from '../components/icons';
import { LiveBadge, useLiveSince } from '../components/LiveBadge';
import { InviteDialog } from '../components/InviteDialog';
import { Notice } from '../components/Notice';
import { PasswordDialog } from '../components/PasswordDialog';
import { QualityPicker } from '../components/QualityPicker';
import { RecBadge } from '../components/RecBadge';
import { Toasts, useToasts } from '../components/Toasts';
import { TopBar } from '../components/TopBar';
import { RemoteAudio, VideoTile } from '../components/VideoTile';
import { trackOf, useLocalMedia, useMuting } from '../hooks/useLocalMedia';
import { useCredentials, useMeeting } from '../hooks/useMeeting';
import { useTitle } from '../hooks/useTitle';
import { useQuality, useReportViewIn, ViewsContext } from '../hooks/useViews';
import type { MeetingEvent } from '../lib/meeting';
import { buildTiles, changeText, displayName } from '../lib/participants';
import { recordingEventText } from '../lib/recording';
import { serverErrorText } from '../i18n';
import { loadName, saveName } from '../lib/prefs';
import { viewerCountText, viewerPhase, viewerStatus } from '../lib/status';

/**
 * The viewer page: joins the broadcast's audience on load and plays its stage,
 * the streamer large and invited guests beside. Invited onto the stage, the
 * viewer publishes their own camera too.
 */
export function Viewer({ room }: { room: string }) {
  const { t } = useTranslation();
  const media = useLocalMedia({ autoOpen: false });
  const { stream, streamRef } = media;
  // Browsers only autoplay muted video; sound needs a click on Unmute.
  const [muted, setMuted] = useState(true);
  const [playing, setPlaying] = useState(false);
  const [invited, setInvited] = useState(false);
  const [onStage, setOnStage] = useState(false);
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const { toasts, push } = useToasts();
  // The name the streamer sees (remembered); a change joins again under it.
  const [name, setName] = useState(loadName);
  const [draft, setDraft] = useState(name);
  const [saved, setSaved] = useState(false);
  const videoRef = useRef<HTMLVideoElement>(null);
  const stageRef = useRef<HTMLElement>(null);
  const mic = trackOf(stream, 'audio');
  const cam = trackOf(stream, 'video');
  const credentials = useCredentials();

  const onEvent = useCallback(
    (e: MeetingEvent) => {
      if (e.type === 'people') push(changeText(e.change));
      else if (e.type === 'invited') setInvited(true);
      else if (e.type === 'to-audience') {
        setInvited(false);
        setOnStage(false);
        media.close();
        push(t('viewer.movedBack'));
      } else if (e.type === 'recording') push(recordingEventText(e.event));
      else if (e.type === 'error') push(serverErrorText(e.code, e.message), 'error');
    },
    [push, media.close],
  );

  const { state, meeting } = useMeeting({
    active: true,
    room,
    kind: 'broadcast',
    role: 'audience',
    name: name || undefined,
    autoPublish: false,
    credentials,
    media: { audio: micOn && mic !== null, video: camOn && cam !== null },
    getStream: () => streamRef.current,
    onEvent,
  });

  useMuting(meeting, mic, cam, micOn, camOn);

  useEffect(() => {
    if (onStage && stream) meeting?.publish();
  }, [meeting, onStage, stream]);

  const tiles = useMemo(
    () =>
      state
        ? buildTiles(state.participants, state.selfId, state.remote, { camera: stream, screen: null })
        : { cameras: [], screens: [] },
    [state, stream],
  );
  // The streamer (the host) large; everyone else on stage, and screen shares, small.
  const main =
    tiles.cameras.find((t) => t.participant.host && !t.self) ?? tiles.cameras.find((t) => !t.self && t.stream);
  const mainStream = main?.stream ?? null;
  const views = meeting?.views ?? null;
  const [quality, setQuality] = useQuality(views);
  const guests = [...tiles.cameras.filter((t) => t !== main), ...tiles.screens];
  const guestAudio = useMemo(() => {
    const out: MediaStream[] = [];
    for (const list of state?.remote.values() ?? []) {
      for (const r of list) {
        if (r.stream !== mainStream && r.stream.getTracks().some((t) => t.kind === 'audio')) out.push(r.stream);
      }
    }
    return out;
  }, [state?.remote, mainStream]);

  useEffect(() => {
    const v = videoRef.current;
    if (!v || v.srcObject === mainStream) return;
    v.srcObject = mainStream;
    setPlaying(false);
    if (mainStream) {
      v.play().catch(() => {
        // Sound without a recent click is refused: fall back to muted.
        if (!v.muted) {
          v.muted = true;
          setMuted(true);
          v.play().catch(() => {});
        }
      });
    }
  }, [mainStream]);

  // meetd sends the layer that fits the stage (and nothing while it is out of sight).
  useReportViewIn(views, videoRef, mainStream?.id ?? null);

  // React sets `muted` as a property only; keep the attribute in step too.
  useEffect(() => {
    const v = videoRef.current;
    if (!v) return;
    v.muted = muted;
    v.toggleAttribute('muted', muted);
  }, [muted]);

  function toggleSound() {
    const v = videoRef.current;
    const next = !muted;
    setMuted(next);
    if (v) {
      v.muted = next;
      if (!next) v.play().catch(() => {}); // inside the click, so sound is allowed
    }
  }

  function fullscreen() {
    const el = stageRef.current;
    if (document.fullscreenElement) void document.exitFullscreen();
    else void el?.requestFullscreen?.().catch(() => {});
  }

  /** Declines the invitation, or leaves the stage: back to watching, nobody sees an empty tile. */
  function leaveStage() {
    setInvited(false);
    setOnStage(false);
    meeting?.leaveStage();
    media.close();
  }

  async function joinStage() {
    setInvited(false);
    setOnStage(true);
    // Joining the stage is a click: sound may play now.
    if (muted) toggleSound();
    if (!streamRef.current) await media.open();
  }

  const { phase, error } = state ? viewerPhase(state, location.host) : { phase: 'connecting' as const, error: null };
  const status = viewerStatus(phase, error, playing);
  const isLive = phase === 'media' && playing;
  const liveSince = useLiveSince(isLive);
  const stageHere = state?.participants.some((p) => p.role === 'stage') ?? false;
  const canFullscreen = typeof document !== 'undefined' && document.fullscreenEnabled;
  const publishing = state?.role === 'stage' && state.publishing !== 'off';
  useTitle(
    t(
      isLive
        ? 'titles.live'
        : phase === 'reconnecting'
          ? 'titles.reconnecting'
          : phase === 'waiting'
            ? 'titles.waiting'
            : phase === 'ended'
              ? 'titles.ended'
              : 'titles.viewer',
      { room },
    ),
  );

  return (
    <ViewsContext.Provider value={views}>
      <div className="app">
        <TopBar room={room}>
          {/* Only while connected: a count kept from before a drop would be stale. */}
          {state?.status === 'joined' && state.viewers != null && (
            <p className="count-quiet" data-testid="viewer-count" title={t('viewer.watching')}>
              <Icon name="people" />
              {viewerCountText(state.viewers)}
            </p>
          )}
        </TopBar>
        <main className="layout layout-single">
          <div className="stage-column">
            <section className={`stage ${guests.length > 0 ? 'has-guests' : ''}`} ref={stageRef}>
              <video
                ref={videoRef}
                className="stage-video"
                data-testid="remote-video"
                autoPlay
                playsInline
                muted
                onPlaying={() => setPlaying(true)}
                onPause={() => setPlaying(false)}
                onEmptied={() => setPlaying(false)}
                onEnded={() => setPlaying(false)}
              />
              {/* The original streamer page sends no name and no media state: only trust the flag of a named one. */}
              {main && !main.participant.video && main.participant.name !== '' && isLive && (
                <div className="stage-placeholder" aria-hidden="true">
                  <Icon name="camOff" />
                  <span>{t('viewer.cameraOff', { name: displayName(main.participant) })}</span>
                </div>
              )}
              {phase === 'reconnecting' && (
                <ConnectionBanner
                  reason={state?.receiving === 'reconnecting' ? t('banner.mediaPath') : t('banner.socket')}
                  next={t('banner.viewerNext')}
                />
              )}
              <div className={isLive ? 'stage-badges' : 'stage-center'}>
                {isLive && liveSince !== null && <LiveBadge since={liveSince} />}
                {state?.recording && <RecBadge recording={state.recording} />}
                <p
                  data-testid="status"
                  role="status"
                  className={`status-pill ${isLive ? 'is-live' : phase === 'error' ? 'is-error' : ''}`}
                >
                  <span className="status-text">{status}</span>
                </p>
              </div>
            </section>

            {guests.length > 0 && (
              <div className="guest-row" aria-label={t('viewer.alsoOnStage')}>
                {guests.map((t) => (
                  <VideoTile
                    key={t.key}
                    tile={t}
                    speaking={state?.speaker === t.participant.id}
                    videoOn={t.self ? camOn && cam !== null : t.participant.video}
                    audioOn={t.self ? micOn && mic !== null : t.participant.audio}
                  />
                ))}
              </div>
            )}
            <RemoteAudio streams={guestAudio} muted={muted} />

            {(publishing || onStage || isLive) && (
              <div className="controls viewer-controls" role="group" aria-label={t('streamer.controls')}>
                {publishing && (
                  <>
                    <button
                      type="button"
                      className={`btn-round ${micOn && mic ? '' : 'is-off'}`}
                      aria-pressed={micOn && mic !== null}
                      disabled={!mic}
                      title={t(micOn ? 'controls.turnOff_microphone' : 'controls.turnOn_microphone')}
                      onClick={() => setMicOn(!micOn)}
                    >
                      <Icon name={micOn && mic ? 'mic' : 'micOff'} />
                      <span className="visually-hidden">{t('devices.microphone')}</span>
                    </button>
                    <button
                      type="button"
                      className={`btn-round ${camOn && cam ? '' : 'is-off'}`}
                      aria-pressed={camOn && cam !== null}
                      disabled={!cam}
                      title={t(camOn ? 'controls.turnOff_camera' : 'controls.turnOn_camera')}
                      onClick={() => setCamOn(!camOn)}
                    >
                      <Icon name={camOn && cam ? 'cam' : 'camOff'} />
                      <span className="visually-hidden">{t('devices.camera')}</span>
                    </button>
                  </>
                )}
                {onStage && state?.role === 'stage' && (
                  <button type="button" className="btn btn-tonal" onClick={leaveStage}>
                    <Icon name="personRemove" />
                    {t('controls.leaveStage')}
                  </button>
                )}
                {/* Sound, quality and full screen only while something plays. */}
                {isLive && (
                  <>
                    <button type="button" className={`btn ${muted ? 'btn-primary' : 'btn-tonal'}`} onClick={toggleSound}>
                      <Icon name={muted ? 'volumeOff' : 'volume'} />
                      {muted ? t('viewer.unmute') : t('viewer.mute')}
                    </button>
                    <QualityPicker value={quality} onChange={setQuality} compact />
                    {canFullscreen && (
                      <button type="button" className="btn-round" title={t('viewer.fullscreen')} onClick={fullscreen}>
                        <Icon name="fullscreen" />
                        <span className="visually-hidden">{t('viewer.fullscreen')}</span>
                      </button>
                    )}
                  </>
                )}
              </div>
            )}
            {phase === 'waiting' && (
              <Notice tone="info" title={stageHere ? t('viewer.soon') : t('viewer.never', { room })} />
            )}
            {phase === 'ended' && <Notice tone="info" title={t('viewer.endedText')} />}
            {!onStage && (
              <form
                className="viewer-name"
                onSubmit={(e) => {
                  e.preventDefault();
                  const clean = saveName(draft);
                  setDraft(clean);
                  setName(clean);
                  setSaved(clean !== '');
                }}
              >
                <div className="field">
                  <label htmlFor="viewer-name">{t('viewer.nameLabel')}</label>
                  <input
                    id="viewer-name"
                    type="text"
                    autoComplete="name"
                    maxLength={64}
                    value={draft}
                    aria-describedby="viewer-name-hint"
                    onChange={(e) => {
                      setDraft(e.target.value);
                      setSaved(false);
                    }}
                  />
                </div>
                <button type="submit" className="btn btn-tonal" disabled={draft.trim() === name}>
                  {t('viewer.nameSave')}
                </button>
                <p id="viewer-name-hint" className="hint" aria-live="polite">
                  {saved ? t('viewer.nameSaved', { name }) : t('viewer.nameHint')}
                </p>
              </form>
            )}
            {publishing && (
              <Notice tone="info" title={t('viewer.onStageTitle')}>
                <p>{t('viewer.onStageText')}</p>
              </Notice>
            )}
            {onStage && media.problem && (
              <Notice tone="error" title={media.problem.summary}>
                <p>{media.problem.help}</p>
              </Notice>
            )}
            {phase === 'error' && error && (
              <Notice tone="error" title={error}>
                <p>
                  {state?.unreachable ? t('viewer.unreachableHelp') : t('viewer.reloadHelp')}
                </p>
              </Notice>
            )}
          </div>
        </main>
        <Toasts toasts={toasts} />
        {invited && <InviteDialog onAccept={() => void joinStage()} onDecline={leaveStage} />}
        {state?.status === 'auth' && state.auth && meeting && (
          <PasswordDialog prompt={state.auth} onSubmit={(password) => meeting.authenticate(password)} />
        )}
      </div>
    </ViewsContext.Provider>
  );
}
