import { useTranslation } from 'react-i18next';
import { useCallback, useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { Icon } from '../components/icons';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Notice } from '../components/Notice';
import { TopBar } from '../components/TopBar';
import { useTitle } from '../hooks/useTitle';
import {
  combinedPath,
  combinedText,
  formatBytes,
  formatDuration,
  formatWhen,
  loadLogin,
  LoginNeeded,
  needsRefresh,
  RecordingsApi,
  replayPath,
  saveLogin,
  trackKindText,
  trackPath,
  type Recording,
  type RecordingList,
  type RecordingsLogin,
} from '../lib/recordings';

/** What the page shows: loading, a login form (meetd's words), an error, or the list. */
export type ListView =
  | { kind: 'loading' }
  | { kind: 'login'; message: string }
  | { kind: 'error'; message: string }
  | { kind: 'list'; list: RecordingList };

/** How often the list is read again while a recording runs or a combined file is made. */
const REFRESH_MS = 2000;

/** /recordings: every recording meetd keeps, to download, watch again or delete. */
export function Recordings() {
  const { t } = useTranslation();
  const [login, setLogin] = useState<RecordingsLogin | null>(() => loadLogin());
  const api = useMemo(() => new RecordingsApi(login), [login]);
  const [view, setView] = useState<ListView>({ kind: 'loading' });
  const [deleting, setDeleting] = useState<Recording | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useTitle(t('titles.recordings'));

  const load = useCallback(async () => {
    try {
      setView({ kind: 'list', list: await api.list() });
    } catch (err) {
      setView(
        err instanceof LoginNeeded
          ? { kind: 'login', message: err.message }
          : { kind: 'error', message: (err as Error).message },
      );
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  const busy = view.kind === 'list' && needsRefresh(view.list);
  useEffect(() => {
    if (!busy) return;
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [busy, load]);

  async function remove(rec: Recording) {
    setDeleting(null);
    try {
      await api.remove(rec.id);
      setProblem(null);
    } catch (err) {
      setProblem(t('recordings.deleteFailed', { words: (err as Error).message }));
    }
    await load();
  }

  async function download(path: string, name: string) {
    try {
      const url = await api.fileUrl(path);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      if (url !== path) setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setProblem(t('recordings.downloadFailed', { words: (err as Error).message }));
    }
  }

  return (
    <div className="app">
      <TopBar />
      <main className="rec-page">
        <h1>{t('recordings.title')}</h1>
        {problem && <Notice tone="error" title={problem} />}
        <RecordingListView
          view={view}
          signedIn={login !== null}
          onLogin={(l) => {
            saveLogin(l);
            setView({ kind: 'loading' });
            setLogin(l);
          }}
          onSignOut={() => {
            saveLogin(null);
            setLogin(null);
          }}
          onDelete={setDeleting}
          link={(path) => api.link(path)}
          onDownload={(path, name) => void download(path, name)}
        />
      </main>
      {deleting && <DeleteDialog rec={deleting} onDelete={() => void remove(deleting)} onCancel={() => setDeleting(null)} />}
    </div>
  );
}

/** The page's body for each state; plain props, so it is tested by rendering it to a string. */
export function RecordingListView({
  view,
  signedIn = false,
  onLogin,
  onSignOut,
  onDelete,
  link,
  onDownload,
}: {
  view: ListView;
  signedIn?: boolean;
  onLogin: (login: RecordingsLogin) => void;
  onSignOut?: () => void;
  onDelete: (rec: Recording) => void;
  /** A file's link with the login; null when the login cannot go in a link (then onDownload fetches it). */
  link?: (path: string) => string | null;
  onDownload?: (path: string, name: string) => void;
}) {
  const { t } = useTranslation();
  const files: Files = { link: link ?? ((p) => p), onDownload };
  switch (view.kind) {
    case 'loading':
      return (
        <p role="status" data-testid="status">
          {t('recordings.loading')}
        </p>
      );
    case 'login':
      return <LoginForm message={view.message} onLogin={onLogin} />;
    case 'error':
      return (
        <Notice tone="error" title={t('recordings.loadFailed')}>
          <p>{view.message}</p>
        </Notice>
      );
  }
  const { list } = view;
  return (
    <>
      {!list.ffmpeg && (
        <Notice tone="info" title={t('recordings.noFfmpegTitle')}>
          <p>{t('recordings.noFfmpegText')}</p>
        </Notice>
      )}
      {list.disk && (
        <p className="rec-disk" data-testid="disk">
          {list.disk.cap > 0
            ? t('recordings.diskCap', {
                used: formatBytes(list.disk.used),
                cap: formatBytes(list.disk.cap),
                free: formatBytes(list.disk.free),
              })
            : t('recordings.disk', { used: formatBytes(list.disk.used), free: formatBytes(list.disk.free) })}
        </p>
      )}
      {signedIn && onSignOut && (
        <p>
          <button type="button" className="btn btn-small btn-tonal" onClick={onSignOut}>
            {t('recordings.signOut')}
          </button>
        </p>
      )}
      {list.recordings.length === 0 ? (
        <p role="status" data-testid="status">
          {t('recordings.none')}
        </p>
      ) : (
        <ul className="rec-list" data-testid="recordings">
          {list.recordings.map((r) => (
            <RecordingItem key={r.id} rec={r} onDelete={() => onDelete(r)} files={files} />
          ))}
        </ul>
      )}
    </>
  );
}

/** How the list makes its download links. */
interface Files {
  link: (path: string) => string | null;
  onDownload?: (path: string, name: string) => void;
}

/** A download: a plain link when the login fits in it, else one that fetches the file with the login. */
function DownloadLink({
  path,
  name,
  children,
  files,
  className = '',
}: {
  path: string;
  name: string;
  children: React.ReactNode;
  files: Files;
  className?: string;
}) {
  const href = files.link(path);
  if (href !== null || !files.onDownload) {
    return (
      <a className={className} href={href ?? path} download={name}>
        {children}
      </a>
    );
  }
  const fetchIt = files.onDownload;
  return (
    <a
      className={className}
      href={path}
      download={name}
      onClick={(e) => {
        e.preventDefault();
        fetchIt(path, name);
      }}
    >
      {children}
    </a>
  );
}

function RecordingItem({ rec, onDelete, files }: { rec: Recording; onDelete: () => void; files: Files }) {
  const { t } = useTranslation();
  const id = useId();
  const recording = rec.state === 'recording';
  const c = rec.combined;
  return (
    <li className="rec-item" data-testid="recording" data-id={rec.id} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>
        {rec.room}
        {recording && (
          <span className="rec-badge" data-testid="rec-running">
            <span className="rec-dot" aria-hidden="true" />
            {t('recordings.running')}
          </span>
        )}
      </h2>
      <dl className="rec-facts">
        <dt>{t('recordings.when')}</dt>
        <dd>
          <time dateTime={new Date(rec.start).toISOString()}>{formatWhen(rec.start)}</time>
        </dd>
        <dt>{t('recordings.duration')}</dt>
        <dd data-testid="duration">{formatDuration(rec.duration)}</dd>
        <dt>{t('recordings.size')}</dt>
        <dd>{formatBytes(rec.size)}</dd>
        <dt>{t('recordings.who')}</dt>
        <dd data-testid="who">
          {rec.participants.length > 0 ? rec.participants.join(', ') : t('recordings.nobody')}
        </dd>
      </dl>
      {!recording && rec.message && rec.reason !== 'stopped' && (
        <p className="rec-stopped" data-testid="stop-reason">
          {rec.message}
        </p>
      )}
      {!recording && (
        <p className="rec-combined" data-testid="combined" data-state={c.state}>
          {combinedText(c)}{' '}
          {c.state === 'making' && (
            <progress className="rec-progress" max={1} value={c.progress} aria-label={t('recordings.progress')} />
          )}
        </p>
      )}
      <div className="rec-actions">
        {!recording && rec.tracks.length > 0 && (
          <a className="btn btn-small btn-primary" href={replayPath(rec.id)}>
            <Icon name="play" />
            {t('recordings.watch')}
          </a>
        )}
        {c.state === 'ready' && (
          <DownloadLink
            className="btn btn-small btn-tonal"
            path={combinedPath(rec.id)}
            name={`${rec.room}-${rec.id}.mp4`}
            files={files}
          >
            <Icon name="download" />
            {t('recordings.downloadCombined')}
          </DownloadLink>
        )}
        {!recording && (
          <button type="button" className="btn btn-small btn-tonal" onClick={onDelete}>
            <Icon name="delete" />
            {t('recordings.delete')}
          </button>
        )}
      </div>
      {rec.tracks.length > 0 && (
        <details>
          <summary>{t('recordings.tracks', { count: rec.tracks.length })}</summary>
          <ul className="rec-tracks">
            {rec.tracks.map((tr) => (
              <li key={tr.file}>
                <DownloadLink path={trackPath(rec.id, tr.file)} name={tr.file} files={files}>
                  {t('recordings.track', {
                    name: tr.participant || t('recordings.someone'),
                    kind: trackKindText(tr.kind),
                  })}
                </DownloadLink>{' '}
                {t('recordings.trackFacts', {
                  codec: tr.codec.toUpperCase(),
                  at: formatDuration(Math.max(0, tr.offset)),
                  duration: formatDuration(tr.duration),
                  size: formatBytes(tr.size),
                })}
              </li>
            ))}
          </ul>
        </details>
      )}
    </li>
  );
}

function LoginForm({ message, onLogin }: { message: string; onLogin: (login: RecordingsLogin) => void }) {
  const { t } = useTranslation();
  const id = useId();
  const [kind, setKind] = useState<'admin' | 'room'>('admin');
  const [room, setRoom] = useState('');
  const [password, setPassword] = useState('');
  const ok = password !== '' && (kind === 'admin' || room.trim() !== '');

  function submit(e: FormEvent) {
    e.preventDefault();
    if (!ok) return;
    onLogin(kind === 'admin' ? { kind, password } : { kind, room: room.trim(), password });
  }

  return (
    <form className="card rec-login" onSubmit={submit} aria-labelledby={`${id}-title`} data-testid="login">
      <h2 id={`${id}-title`} className="card-title">
        {t('recordings.loginTitle')}
      </h2>
      <Notice tone="info" title={message} />
      <fieldset className="field">
        <legend>{t('recordings.loginAs')}</legend>
        <label>
          <input type="radio" name="kind" checked={kind === 'admin'} onChange={() => setKind('admin')} />{' '}
          {t('recordings.loginAdmin')}
        </label>
        <label>
          <input type="radio" name="kind" checked={kind === 'room'} onChange={() => setKind('room')} />{' '}
          {t('recordings.loginRoom')}
        </label>
      </fieldset>
      {kind === 'room' && (
        <div className="field">
          <label htmlFor={`${id}-room`}>{t('recordings.roomLabel')}</label>
          <input
            id={`${id}-room`}
            type="text"
            autoComplete="off"
            maxLength={64}
            value={room}
            onChange={(e) => setRoom(e.target.value)}
          />
        </div>
      )}
      <div className="field">
        <label htmlFor={`${id}-password`}>{t('password.label')}</label>
        <input
          id={`${id}-password`}
          type="password"
          autoComplete="current-password"
          maxLength={256}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <button type="submit" className="btn btn-primary" disabled={!ok}>
        {t('password.continue')}
      </button>
    </form>
  );
}

function DeleteDialog({ rec, onDelete, onCancel }: { rec: Recording; onDelete: () => void; onCancel: () => void }) {
  const { t } = useTranslation();
  return (
    <ConfirmDialog
      title={t('recordings.deleteTitle')}
      text={t('recordings.deleteText', { room: rec.room, when: formatWhen(rec.start) })}
      cancelLabel={t('common.cancel')}
      confirmLabel={t('recordings.delete')}
      onConfirm={onDelete}
      onCancel={onCancel}
    />
  );
}
