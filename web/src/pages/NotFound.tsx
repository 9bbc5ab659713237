import { TopBar } from '../components/TopBar';
import { viewerPath, streamerPath, DEFAULT_ROOM } from '../lib/rooms';

/** Shown for paths that are no page, and for broadcast names that are not valid. */
export function NotFound({ path, problem, meeting }: { path: string; problem?: string; meeting?: boolean }) {
  return (
    <div className="app">
      <TopBar />
      <main className="layout layout-single">
        <section className="card message-card">
          {problem ? (
            <>
              <h1>This {meeting ? 'meeting' : 'broadcast'} name is not valid</h1>
              <p data-testid="status" role="status" className="message-error">
                Error: {problem}
              </p>
              <p className="card-text">
                Names are 1–64 characters: letters, digits, “_” and “-”, for example{' '}
                <code>{meeting ? '/meet/team-standup' : '/b/team-standup'}</code>.
              </p>
            </>
          ) : (
            <>
              <h1>Page not found</h1>
              <p className="card-text">
                There is no page at <code>{path}</code>.
              </p>
            </>
          )}
          <ul className="links">
            <li>
              <a href={streamerPath(DEFAULT_ROOM)}>Go live on the default broadcast</a>
            </li>
            <li>
              <a href={viewerPath(DEFAULT_ROOM)}>Watch the default broadcast</a>
            </li>
            <li>
              <a href="/meet">Start or join a meeting</a>
            </li>
          </ul>
          <p className="card-text hint">
            Other broadcasts live at <code>/b/NAME</code> (to stream) and <code>/b/NAME/viewer</code> (to
            watch); meetings at <code>/meet/NAME</code>.
          </p>
        </section>
      </main>
    </div>
  );
}
