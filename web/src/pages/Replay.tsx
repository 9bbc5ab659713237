import { useTranslation } from 'react-i18next';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ChatText } from '../components/ChatText';
import { Icon } from '../components/icons';
import { Notice } from '../components/Notice';
import { TopBar } from '../components/TopBar';
import { useTitle } from '../hooks/useTitle';
import { formatElapsed } from '../i18n';
import {
  formatWhen,
  loadLogin,
  LoginNeeded,
  RecordingsApi,
  trackKindText,
  trackPath,
  type RecordedTrack,
  type RecordingDetail,
} from '../lib/recordings';
import { chatUpTo, MasterClock, Synchronizer, timelineLength } from '../lib/timeline';

type Load = { kind: 'loading' } | { kind: 'error'; message: string; login: boolean } | { kind: 'ready'; rec: RecordingDetail };

/** /recordings/ID: every track of a recording in a grid, played together, with the chat as it was written. */
export function Replay({ id }: { id: string }) {
  const { t } = useTranslation();
  const api = useMemo(() => new RecordingsApi(loadLogin()), []);
  const [load, setLoad] = useState<Load>({ kind: 'loading' });
  useTitle(t('titles.replay', { room: load.kind === 'ready' ? load.rec.room : id }));

  useEffect(() => {
    let live = true;
    api.get(id).then(
      (rec) => live && setLoad({ kind: 'ready', rec }),
      (err: Error) => live && setLoad({ kind: 'error', message: err.message, login: err instanceof LoginNeeded }),
    );
    return () => {
      live = false;
    };
  }, [api, id]);

  return (
    <div className="app">
      <TopBar>
        <a className="topbar-link" href="/recordings">
          {t('replay.all')}
        </a>
      </TopBar>
      {load.kind === 'loading' && (
        <main className="rec-page">
          <p role="status" data-testid="status">
            {t('recordings.loading')}
          </p>
        </main>
      )}
      {load.kind === 'error' && (
        <main className="rec-page">
          <h1>{t('replay.title', { room: id })}</h1>
          <Notice tone="error" title={load.login ? t('replay.loginNeeded') : t('recordings.loadFailed')}>
            <p>{load.message}</p>
            {load.login && (
              <p>
                <a href="/recordings">{t('replay.signIn')}</a>
              </p>
            )}
          </Notice>
        </main>
      )}
      {load.kind === 'ready' && <Player rec={load.rec} api={api} />}
    </div>
  );
}

/** The player: the tracks in a grid on one clock, the bar that moves it, the chat beside. */
function Player({ rec, api }: { rec: RecordingDetail; api: RecordingsApi }) {
  const { t } = useTranslation();
  // Video tracks get a tile each; audio plays in hidden elements.
  const tracks = rec.tracks;
  const length = timelineLength(tracks, rec.duration);
  const sync = useMemo(() => new Synchronizer(new MasterClock(length)), [length]);
  const elements = useRef<(HTMLMediaElement | null)[]>([]);
  const [sources, setSources] = useState<(string | null)[]>(() => tracks.map(() => null));
  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [waiting, setWaiting] = useState(false);
  const [active, setActive] = useState<boolean[]>([]);
  const [problem, setProblem] = useState<string | null>(null);

  // The files' addresses (blobs when a login must go with them).
  useEffect(() => {
    let live = true;
    const made: string[] = [];
    Promise.all(tracks.map((tr) => api.fileUrl(trackPath(rec.id, tr.file)))).then(
      (urls) => {
        made.push(...urls.filter((u) => u.startsWith('blob:')));
        if (live) setSources(urls);
      },
      (err: Error) => live && setProblem(err.message),
    );
    return () => {
      live = false;
      made.forEach((u) => URL.revokeObjectURL(u));
    };
  }, [api, rec.id, tracks]);

  // The one loop that keeps every element on the clock.
  useEffect(() => {
    let frame = 0;
    const tick = () => {
      const report = sync.step(tracks, elements.current);
      // A tenth of a second is as fine as the bar and the chat need.
      setTime((was) => (Math.abs(was - report.time) >= 0.1 || report.time === 0 || report.time === length ? report.time : was));
      setWaiting(report.waiting && sync.wantsPlay);
      setPlaying(sync.wantsPlay && !sync.clock.ended);
      setActive((was) => (was.length === report.active.length && was.every((a, i) => a === report.active[i]) ? was : report.active));
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [sync, tracks, length]);

  // Space plays and pauses, arrows move 5 s (outside text fields and buttons).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null;
      if (el && (el.closest('input, textarea, select, button, a') || el.isContentEditable)) return;
      if (e.key === ' ') {
        e.preventDefault();
        toggle();
      } else if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault();
        sync.seek(sync.clock.time + (e.key === 'ArrowRight' ? 5 : -5));
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  function toggle() {
    if (sync.wantsPlay && !sync.clock.ended) sync.pause();
    else sync.play();
  }

  const chat = chatUpTo(rec.chat, time);
  const chatEnd = useRef<HTMLOListElement>(null);
  useEffect(() => {
    chatEnd.current?.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }, [chat.length]);

  const videos = tracks.map((tr, i) => ({ tr, i })).filter(({ tr }) => tr.kind !== 'microphone');
  const audios = tracks.map((tr, i) => ({ tr, i })).filter(({ tr }) => tr.kind === 'microphone');
  const bind = (i: number) => (el: HTMLMediaElement | null) => {
    elements.current[i] = el;
  };

  return (
    <main className="replay">
      <div>
        <h1 className="replay-title">{t('replay.title', { room: rec.room })}</h1>
        <p className="rec-disk">
          {formatWhen(rec.start)} · {rec.participants.join(', ')}
        </p>
        {problem && <Notice tone="error" title={t('recordings.loadFailed')}>{problem}</Notice>}
        <div className="replay-grid" data-testid="replay-grid">
          {videos.map(({ tr, i }) => (
            <figure
              key={tr.file}
              className={`replay-tile ${active[i] || nearStart(tr, time) ? '' : 'is-absent'}`}
              aria-label={trackLabel(tr)}
            >
              <video
                ref={bind(i)}
                src={sources[i] ?? undefined}
                data-testid="replay-video"
                data-offset={tr.offset}
                data-file={tr.file}
                preload="auto"
                playsInline
                muted
              />
              <figcaption>{trackLabel(tr)}</figcaption>
            </figure>
          ))}
          {videos.length === 0 && <p className="replay-tile">{t('replay.audioOnly')}</p>}
        </div>
        {audios.map(({ tr, i }) => (
          <audio
            key={tr.file}
            ref={bind(i)}
            src={sources[i] ?? undefined}
            data-testid="replay-audio"
            data-offset={tr.offset}
            data-file={tr.file}
            preload="auto"
          />
        ))}
        <div className="replay-bar" role="group" aria-label={t('replay.controls')}>
          <button
            type="button"
            className="btn-round"
            data-testid="play"
            title={playing ? t('replay.pause') : t('replay.play')}
            onClick={toggle}
          >
            <Icon name={playing ? 'pause' : 'play'} />
            <span className="visually-hidden">{playing ? t('replay.pause') : t('replay.play')}</span>
          </button>
          <input
            type="range"
            min={0}
            max={length}
            step={0.1}
            value={time}
            data-testid="seek"
            aria-label={t('replay.position')}
            aria-valuetext={t('replay.positionText', { time: formatElapsed(time * 1000), length: formatElapsed(length * 1000) })}
            onChange={(e) => sync.seek(Number(e.target.value))}
          />
          <span className="replay-time" data-testid="time">
            {formatElapsed(time * 1000)} / {formatElapsed(length * 1000)}
          </span>
          {waiting && (
            <span role="status" className="rec-disk">
              {t('replay.loading')}
            </span>
          )}
        </div>
      </div>
      <aside className="replay-chat" aria-labelledby="replay-chat-title">
        <h2 id="replay-chat-title">{t('replay.chat')}</h2>
        {rec.chat.length === 0 ? (
          <p className="rec-disk">{t('replay.noChat')}</p>
        ) : (
          <ol ref={chatEnd} data-testid="replay-chat" aria-live="off">
            {chat.map((c, i) => (
              <li key={i}>
                <time>{formatElapsed(c.time * 1000)}</time>
                <strong>{c.name || t('recordings.someone')}</strong>: <ChatText text={c.text} />
              </li>
            ))}
          </ol>
        )}
      </aside>
    </main>
  );
}

/** A track that starts within a moment of `time` shows its first frame rather than a blank tile. */
function nearStart(tr: RecordedTrack, time: number): boolean {
  return time < tr.offset && tr.offset - time < 0.5;
}

function trackLabel(tr: RecordedTrack): string {
  return `${tr.participant || '?'} · ${trackKindText(tr.kind)}`;
}
