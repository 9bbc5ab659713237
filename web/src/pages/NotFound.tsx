import { useState, type FormEvent } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { TopBar } from '../components/TopBar';
import { useTitle } from '../hooks/useTitle';
import {
  correctedRoomName,
  DEFAULT_ROOM,
  meetingPath,
  roomNameProblem,
  streamerPath,
  viewerPath,
  type Page,
} from '../lib/rooms';

function pathOf(page: Page, name: string): string {
  return page === 'meeting' ? meetingPath(name) : page === 'viewer' ? viewerPath(name) : streamerPath(name);
}

/**
 * Shown for paths that are no page, and for room names that are not valid:
 * then with the nearest valid name, a box to type another, and only the links
 * that fit (a meeting's error offers meetings).
 */
export function NotFound({ path, problem, page, name }: { path: string; problem?: string; page?: Page; name?: string }) {
  const { t } = useTranslation();
  useTitle(problem ? t('titles.badName') : t('titles.notFound'));
  const meeting = page === 'meeting';
  const suggestion = name !== undefined ? correctedRoomName(name) : null;
  const [typed, setTyped] = useState(suggestion ?? '');
  const [why, setWhy] = useState<string | null>(null);

  function open(e: FormEvent) {
    e.preventDefault();
    const wrong = roomNameProblem(typed.trim(), meeting ? 'meeting' : 'broadcast');
    if (wrong) setWhy(wrong);
    else location.assign(pathOf(page ?? 'viewer', typed.trim()));
  }

  return (
    <div className="app">
      <TopBar />
      <main className="layout layout-single">
        <section className="card message-card">
          {problem && page ? (
            <>
              <h1>{t(meeting ? 'notFound.badMeeting' : 'notFound.badBroadcast')}</h1>
              <p data-testid="status" role="status" className="message-error">
                {t('status.error', { words: problem })}
              </p>
              {suggestion && (
                <p className="card-text" data-testid="suggestion">
                  <Trans
                    i18nKey="notFound.suggestion"
                    values={{ name: suggestion }}
                    components={{ go: <a href={pathOf(page, suggestion)} /> }}
                  />
                </p>
              )}
              <form className="home-join" onSubmit={open} noValidate>
                <label htmlFor="room-name">{t(meeting ? 'home.nameLabel' : 'notFound.broadcastName')}</label>
                <input
                  id="room-name"
                  type="text"
                  value={typed}
                  aria-invalid={why !== null}
                  aria-describedby={why ? 'room-name-problem' : undefined}
                  onChange={(e) => {
                    setTyped(e.target.value);
                    setWhy(null);
                  }}
                />
                <button type="submit" className="btn btn-tonal" disabled={!typed.trim()}>
                  {t('notFound.open')}
                </button>
              </form>
              {why && (
                <p id="room-name-problem" className="message-error" role="alert">
                  {why}
                </p>
              )}
              <p className="card-text">
                <Trans
                  i18nKey="notFound.rules"
                  values={{ example: meeting ? '/meet/team-standup' : '/b/team-standup' }}
                  components={{ code: <code /> }}
                />
              </p>
            </>
          ) : (
            <>
              <h1>{t('notFound.title')}</h1>
              <p className="card-text">
                <Trans i18nKey="notFound.text" values={{ path }} components={{ code: <code /> }} />
              </p>
            </>
          )}
          <ul className="links">
            {!meeting && (
              <>
                <li>
                  <a href={streamerPath(DEFAULT_ROOM)}>{t('notFound.goLive')}</a>
                </li>
                <li>
                  <a href={viewerPath(DEFAULT_ROOM)}>{t('notFound.watch')}</a>
                </li>
              </>
            )}
            {(meeting || !page) && (
              <li>
                <a href="/meet">{t('notFound.meet')}</a>
              </li>
            )}
          </ul>
          {!page && (
            <p className="card-text hint">
              <Trans i18nKey="notFound.hint" components={{ code: <code /> }} />
            </p>
          )}
        </section>
      </main>
    </div>
  );
}
