import { useTranslation } from 'react-i18next';
import { useEffect, useRef, useState } from 'react';
import { useReportView } from '../hooks/useViews';
import { displayName, initials, type Tile } from '../lib/participants';
import { avatarStyle } from './avatar';
import { Icon } from './icons';

/**
 * Plays a stream in a muted video element (sound comes from RemoteAudio).
 * A received stream (`remote`) tells meetd how big it is shown.
 */
export function StreamVideo({
  stream,
  className,
  testId,
  remote = false,
  onFirstFrame,
}: {
  stream: MediaStream | null;
  className?: string;
  testId?: string;
  remote?: boolean;
  /** Called once the first frame of this stream is drawn in this element. */
  onFirstFrame?: (stream: MediaStream) => void;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  const firstFrame = useRef(onFirstFrame);
  firstFrame.current = onFirstFrame;
  useReportView(ref, remote && stream ? stream.id : null);
  useEffect(() => {
    const v = ref.current;
    if (!v) return;
    v.muted = true;
    if (v.srcObject !== stream) v.srcObject = stream;
    if (!stream) return;
    v.play().catch(() => {});
    let done = false;
    const drawn = () => {
      if (done) return;
      done = true;
      firstFrame.current?.(stream);
    };
    // A frame presented on screen where the browser can say so; else the first decoded one.
    let handle = 0;
    if (typeof v.requestVideoFrameCallback === 'function') handle = v.requestVideoFrameCallback(drawn);
    else v.addEventListener('loadeddata', drawn, { once: true });
    return () => {
      done = true;
      if (handle) v.cancelVideoFrameCallback(handle);
      v.removeEventListener('loadeddata', drawn);
    };
  }, [stream]);
  return <video ref={ref} className={className} autoPlay playsInline muted data-testid={testId} />;
}

function hasVideo(stream: MediaStream | null): boolean {
  return stream !== null && stream.getTracks().some((t) => t.kind === 'video' && t.readyState === 'live');
}

/**
 * One person (or one screen share) in the call: the video, or their initials
 * when the camera is off; the name; a muted-microphone mark; a ring while
 * they speak.
 */
export function VideoTile({
  tile,
  speaking,
  videoOn,
  audioOn,
  className = '',
}: {
  tile: Tile;
  speaking: boolean;
  /** Whether to show the video (the camera is on and there is video). */
  videoOn: boolean;
  audioOn: boolean;
  className?: string;
}) {
  const { t } = useTranslation();
  const p = tile.participant;
  const name = displayName(p);
  const screen = tile.kind === 'screen';
  const label = screen ? t('tile.screen', { name }) : tile.self ? t('tile.you', { name }) : name;
  const show = (videoOn || screen) && hasVideo(tile.stream);
  // The avatar (with a spinner) stays until this element has drawn a frame of the stream.
  const [drawnFor, setDrawnFor] = useState<MediaStream | null>(null);
  const waiting = show && drawnFor !== tile.stream;
  useEffect(() => {
    if (!show) setDrawnFor(null); // the next video element starts with nothing drawn
  }, [show]);
  return (
    <figure
      className={`tile ${screen ? 'tile-screen' : ''} ${speaking && !screen ? 'is-speaking' : ''} ${className}`}
      data-testid={screen ? 'screen-tile' : 'tile'}
      data-participant={p.id}
      aria-label={label}
    >
      {show && (
        <StreamVideo
          stream={tile.stream}
          className={`tile-video ${tile.self && !screen ? 'mirror' : ''}`}
          remote={!tile.self}
          onFirstFrame={setDrawnFor}
        />
      )}
      {(!show || waiting) && (
        <div className={`tile-avatar ${waiting ? 'is-waiting' : ''}`} aria-hidden="true" data-testid="tile-avatar">
          <span className="avatar" style={avatarStyle(p.id)}>
            {screen ? <Icon name="screen" /> : initials(name)}
          </span>
        </div>
      )}
      {!screen && !audioOn && (
        <span className="tile-muted" title={t('tile.mutedTip', { name })} data-testid="muted">
          <Icon name="micOff" />
          <span className="visually-hidden">{t('people.micOff')}</span>
        </span>
      )}
      <figcaption className="tile-name">
        {screen && <Icon name="screen" />}
        <span>{label}</span>
      </figcaption>
    </figure>
  );
}

/** Plays the sound of remote streams; muted plays nothing (a viewer who has not clicked Unmute). */
export function RemoteAudio({ streams, muted = false }: { streams: MediaStream[]; muted?: boolean }) {
  return (
    <div hidden>
      {streams.map((s) => (
        <AudioOf key={s.id} stream={s} muted={muted} />
      ))}
    </div>
  );
}

function AudioOf({ stream, muted }: { stream: MediaStream; muted: boolean }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const a = ref.current;
    if (!a) return;
    if (a.srcObject !== stream) a.srcObject = stream;
    a.muted = muted;
    if (!muted) a.play().catch(() => {});
  }, [stream, muted]);
  return <audio ref={ref} autoPlay />;
}
