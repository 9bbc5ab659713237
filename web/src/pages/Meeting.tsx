import { useTranslation } from 'react-i18next';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Call, type Panel } from '../components/Call';
import { InviteDialog } from '../components/InviteDialog';
import { PasswordDialog } from '../components/PasswordDialog';
import { PreJoin } from '../components/PreJoin';
import { StopRecordingDialog } from '../components/StopRecordingDialog';
import { useToasts } from '../components/Toasts';
import { TopBar } from '../components/TopBar';
import { trackOf, useLocalMedia, useMuting } from '../hooks/useLocalMedia';
import { useCredentials, useMeeting } from '../hooks/useMeeting';
import { useTitle } from '../hooks/useTitle';
import type { MeetingEvent } from '../lib/meeting';
import { serverErrorText, t } from '../i18n';
import { changeText, displayName } from '../lib/participants';
import { loadName, saveName } from '../lib/prefs';
import { recordingEventText } from '../lib/recording';
import { meetingUrl } from '../lib/rooms';
import { shortcutOf } from '../lib/shortcuts';

type Phase = 'prejoin' | 'call' | 'left';

function deviceTrouble(err: unknown): void {
  console.warn('meetd: could not switch the device:', err);
}

/** Words for meetd refusing to let us in. */
function refusal(code: string, message: string): { title: string; text: string } {
  const words = serverErrorText(code, message);
  switch (code) {
    case 'room_full':
      return { title: t('meeting.fullTitle'), text: t('meeting.fullText', { words }) };
    case 'bad_room':
      return { title: t('notFound.badMeeting'), text: words };
    default:
      return { title: t('meeting.refusedTitle'), text: words };
  }
}

/** A meeting at /meet/NAME: the pre-join screen, then the call. */
export function Meeting({ room }: { room: string }) {
  const media = useLocalMedia();
  const { stream, streamRef } = media;
  const [phase, setPhase] = useState<Phase>('prejoin');
  const [role, setRole] = useState<'stage' | 'audience'>('stage');
  const [name, setName] = useState(loadName);
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const [panel, setPanel] = useState<Panel>(null);
  const [unread, setUnread] = useState(0);
  const [invited, setInvited] = useState(false);
  /** We mean to publish: joined on stage, or took an invitation. */
  const [publishing, setPublishing] = useState(false);
  const [screen, setScreen] = useState<MediaStream | null>(null);
  const [problem, setProblem] = useState<{ title: string; text: string } | null>(null);
  /** The host asked to stop recording: Stop or Keep recording. */
  const [confirmStop, setConfirmStop] = useState(false);
  const { toasts, push } = useToasts();
  useTranslation(); // follow a change of language
  const credentials = useCredentials();
  const panelRef = useRef(panel);
  panelRef.current = panel;

  const mic = trackOf(stream, 'audio');
  const cam = trackOf(stream, 'video');
  const link = meetingUrl(location.origin, room);

  const onEvent = useCallback(
    (e: MeetingEvent) => {
      switch (e.type) {
        case 'people':
          push(changeText(e.change));
          return;
        case 'chat':
          if (panelRef.current !== 'chat') {
            setUnread((n) => n + 1);
            const text = e.entry.text.length > 80 ? `${e.entry.text.slice(0, 80)}…` : e.entry.text;
            push(`${displayName({ name: e.entry.name, role: 'stage' })}: ${text}`);
          }
          return;
        case 'invited':
          setInvited(true);
          return;
        case 'to-audience':
          setInvited(false);
          setPublishing(false);
          setScreen(null);
          media.close();
          push(t('meeting.movedToAudience'));
          return;
        case 'recording':
          push(recordingEventText(e.event), e.event.type === 'refused' ? 'error' : 'info');
          return;
        case 'error':
          push(serverErrorText(e.code, e.message), 'error');
          return;
      }
    },
    [push, media.close],
  );

  const { state, meeting } = useMeeting({
    active: phase === 'call',
    room,
    kind: 'meeting',
    role,
    name: name.trim() || undefined,
    autoPublish: role === 'stage',
    credentials,
    media: { audio: micOn && mic !== null, video: camOn && cam !== null },
    getStream: () => streamRef.current,
    onEvent,
  });

  useMuting(meeting, mic, cam, micOn, camOn);

  // Ctrl+D / Ctrl+E (⌘ on macOS) toggle the microphone and the camera, as in Meet.
  useEffect(() => {
    if (phase === 'left') return;
    const onKey = (e: KeyboardEvent) => {
      const which = shortcutOf(e);
      if (!which) return;
      e.preventDefault(); // not the browser's bookmark or search
      if (which === 'mic') setMicOn((on) => !on);
      else setCamOn((on) => !on);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [phase]);

  // The camera opened after we joined (or after taking an invitation): publish it now.
  useEffect(() => {
    if (publishing && stream) meeting?.publish();
  }, [meeting, publishing, stream]);

  // A changed device (Settings) goes out on the running publish connection, without a new offer.
  useEffect(() => {
    if (mic) meeting?.replaceTrack('audio', mic).catch(deviceTrouble);
  }, [meeting, mic]);
  useEffect(() => {
    if (cam) meeting?.replaceTrack('video', cam).catch(deviceTrouble);
  }, [meeting, cam]);

  // The share ended (stopped by us, by the browser, or by a rejoin).
  const shared = state?.media.screen ?? '';
  useEffect(() => {
    if (screen && shared !== screen.id) setScreen(null);
  }, [shared, screen]);

  // meetd refused to let us in: back to the pre-join screen, saying why.
  useEffect(() => {
    if (state?.status === 'error' && state.error) {
      setProblem(refusal(state.error.code, state.error.message));
      setPhase('prejoin');
    }
  }, [state?.status, state?.error]);

  useEffect(() => {
    if (panel === 'chat') setUnread(0);
  }, [panel]);


  function join(as: 'stage' | 'audience') {
    setName(saveName(name));
    setProblem(null);
    setRole(as);
    setPublishing(as === 'stage');
    setUnread(0);
    if (as === 'audience') media.close();
    else if (!media.stream && !media.opening) void media.open();
    setPhase('call');
  }

  async function toggleShare() {
    if (!meeting) return;
    if (screen) {
      await meeting.stopScreen().catch(() => {});
      return;
    }
    let s: MediaStream;
    try {
      s = await navigator.mediaDevices.getDisplayMedia({ video: true });
    } catch (err) {
      if ((err as Error).name !== 'NotAllowedError') push(t('meeting.shareFailed'), 'error');
      return;
    }
    setScreen(s);
    try {
      await meeting.startScreen(s);
    } catch (err) {
      setScreen(null);
      s.getTracks().forEach((t) => t.stop());
      push(t('meeting.shareError', { why: (err as Error).message }), 'error');
    }
  }

  /** Declines an invitation, or leaves the stage one took: back to watching. */
  function leaveStage() {
    setInvited(false);
    setPublishing(false);
    setScreen(null);
    meeting?.leaveStage();
    media.close();
  }

  async function acceptStage() {
    setInvited(false);
    setPublishing(true);
    if (!streamRef.current) await media.open();
    meeting?.publish();
  }

  const reconnecting =
    phase === 'call' &&
    (state?.status === 'reconnecting' || state?.publishing === 'reconnecting' || state?.receiving === 'reconnecting');
  useTitle(
    phase === 'left'
      ? t('titles.left', { room })
      : phase === 'prejoin'
        ? t('titles.prejoin', { room })
        : reconnecting
          ? t('titles.reconnecting', { room })
          : t('titles.meeting', { room }),
  );

  if (phase === 'left') {
    return (
      <div className="app">
        <TopBar />
        <main className="layout layout-single">
          <section className="card message-card left-card">
            <h1>{t('meeting.leftTitle')}</h1>
            <p className="card-text">
              {t('topbar.meeting')} <strong>{room}</strong>
            </p>
            <div className="share-actions">
              <button type="button" className="btn btn-primary" onClick={() => join(role)}>
                {t('meeting.rejoin')}
              </button>
              <a className="btn btn-tonal" href="/meet">
                {t('meeting.home')}
              </a>
            </div>
          </section>
        </main>
      </div>
    );
  }

  if (phase === 'prejoin' || !state || !meeting) {
    return (
      <div className="app">
        <TopBar room={room} kind="meeting" />
        <PreJoin
          room={room}
          link={link}
          media={media}
          micOn={micOn}
          camOn={camOn}
          onMic={() => setMicOn(!micOn)}
          onCam={() => setCamOn(!camOn)}
          name={name}
          onName={setName}
          problem={problem}
          onJoin={join}
        />
      </div>
    );
  }

  return (
    <>
      <Call
        room={room}
        link={link}
        meeting={meeting}
        state={state}
        camera={stream}
        screen={screen}
        micOn={micOn}
        camOn={camOn}
        hasMic={mic !== null}
        hasCam={cam !== null}
        panel={panel}
        unread={unread}
        toasts={toasts}
        onPanel={setPanel}
        onMic={() => setMicOn(!micOn)}
        onCam={() => setCamOn(!camOn)}
        onShare={() => void toggleShare()}
        onLeave={() => {
          setPhase('left');
          setScreen(null);
          setPanel(null);
          media.close();
        }}
        onCopied={(ok) => push(ok ? t('meeting.linkCopied') : t('meeting.copyFailed'), ok ? 'info' : 'error')}
        devices={media.devices}
        onDevice={(kind, id) => void media.switchDevice(kind, id)}
        onLeaveStage={role === 'audience' ? leaveStage : undefined}
        onRecord={() => (state.recording ? setConfirmStop(true) : void meeting.record(true))}
      />
      {confirmStop && state.recording && (
        <StopRecordingDialog
          onStop={() => {
            setConfirmStop(false);
            meeting.record(false);
          }}
          onCancel={() => setConfirmStop(false)}
        />
      )}
      {invited && <InviteDialog onAccept={() => void acceptStage()} onDecline={leaveStage} />}
      {state.status === 'auth' && state.auth && (
        <PasswordDialog
          prompt={state.auth}
          onSubmit={(password) => meeting.authenticate(password)}
          onCancel={() => setPhase('prejoin')}
        />
      )}
    </>
  );
}
