import { useEffect, useRef, useState } from 'react';
import { Icon } from '../components/icons';
import { Notice } from '../components/Notice';
import { TopBar } from '../components/TopBar';
import { signalingUrl } from '../lib/signaling';
import { viewerCountText, viewerStatus } from '../lib/status';
import { Subscriber, type SubscriberState } from '../lib/subscriber';

const INITIAL: SubscriberState = { phase: 'connecting', error: null, viewers: null, stream: null };

/** The viewer page: joins the audience on load and plays the broadcast. */
export function Viewer({ room }: { room: string }) {
  const [sub, setSub] = useState<SubscriberState>(INITIAL);
  // Browsers only autoplay muted video; sound needs a click on Unmute.
  const [muted, setMuted] = useState(true);
  const [playing, setPlaying] = useState(false);
  const videoRef = useRef<HTMLVideoElement>(null);
  const stageRef = useRef<HTMLElement>(null);

  useEffect(() => {
    const s = new Subscriber({
      room,
      signalingUrl: signalingUrl(location),
      host: location.host,
      onChange: setSub,
    });
    s.start();
    return () => s.stop();
  }, [room]);

  const { stream } = sub;
  useEffect(() => {
    const v = videoRef.current;
    if (!v || v.srcObject === stream) return;
    v.srcObject = stream;
    setPlaying(false);
    if (stream) {
      v.play().catch(() => {
        // Sound without a recent click is refused: fall back to muted.
        if (!v.muted) {
          v.muted = true;
          setMuted(true);
          v.play().catch(() => {});
        }
      });
    }
  }, [stream]);

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

  const status = viewerStatus(sub.phase, sub.error, playing);
  const isLive = sub.phase === 'media' && playing;
  const canFullscreen = typeof document !== 'undefined' && document.fullscreenEnabled;

  return (
    <div className="app">
      <TopBar room={room}>
        {sub.viewers !== null && (
          <p className="count-quiet" data-testid="viewer-count" title="People watching">
            <Icon name="people" />
            {viewerCountText(sub.viewers)}
          </p>
        )}
      </TopBar>
      <main className="layout layout-single">
        <div className="stage-column">
          <section className="stage" ref={stageRef}>
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
            <div className={isLive ? 'stage-badges' : 'stage-center'}>
              <p
                data-testid="status"
                role="status"
                className={`status-pill ${isLive ? 'is-live' : sub.phase === 'error' ? 'is-error' : ''}`}
              >
                <span className="status-text">{status}</span>
              </p>
            </div>
          </section>

          <div className="controls" role="group" aria-label="Controls">
            <button
              type="button"
              className={`btn ${muted ? 'btn-primary' : 'btn-tonal'}`}
              onClick={toggleSound}
            >
              <Icon name={muted ? 'volumeOff' : 'volume'} />
              {muted ? 'Unmute' : 'Mute'}
            </button>
            {canFullscreen && (
              <button
                type="button"
                className="btn-round"
                title="Full screen"
                onClick={fullscreen}
              >
                <Icon name="fullscreen" />
                <span className="visually-hidden">Full screen</span>
              </button>
            )}
          </div>
          {sub.phase === 'error' && sub.error && (
            <Notice tone="error" title={sub.error}>
              <p>
                {sub.error.startsWith('Cannot reach')
                  ? 'Check that meetd is running. This page keeps trying to connect.'
                  : 'Reload the page to try again.'}
              </p>
            </Notice>
          )}
        </div>
      </main>
    </div>
  );
}
