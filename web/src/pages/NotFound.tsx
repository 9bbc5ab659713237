import { Trans, useTranslation } from 'react-i18next';
import { TopBar } from '../components/TopBar';
import { useTitle } from '../hooks/useTitle';
import { viewerPath, streamerPath, DEFAULT_ROOM } from '../lib/rooms';

/** Shown for paths that are no page, and for broadcast names that are not valid. */
export function NotFound({ path, problem, meeting }: { path: string; problem?: string; meeting?: boolean }) {
  const { t } = useTranslation();
  useTitle(problem ? t('titles.badName') : t('titles.notFound'));
  return (
    <div className="app">
      <TopBar />
      <main className="layout layout-single">
        <section className="card message-card">
          {problem ? (
            <>
              <h1>{t(meeting ? 'notFound.badMeeting' : 'notFound.badBroadcast')}</h1>
              <p data-testid="status" role="status" className="message-error">
                {t('status.error', { words: problem })}
              </p>
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
            <li>
              <a href={streamerPath(DEFAULT_ROOM)}>{t('notFound.goLive')}</a>
            </li>
            <li>
              <a href={viewerPath(DEFAULT_ROOM)}>{t('notFound.watch')}</a>
            </li>
            <li>
              <a href="/meet">{t('notFound.meet')}</a>
            </li>
          </ul>
          <p className="card-text hint">
            <Trans i18nKey="notFound.hint" components={{ code: <code /> }} />
          </p>
        </section>
      </main>
    </div>
  );
}
