import { parseRoute } from './lib/rooms';
import { NotFound } from './pages/NotFound';
import { Streamer } from './pages/Streamer';
import { Viewer } from './pages/Viewer';

/** Picks the page from the address; every page is a full page load, so no router is needed. */
export function App({ pathname }: { pathname: string }) {
  const route = parseRoute(pathname);
  switch (route.kind) {
    case 'page':
      return route.page === 'streamer' ? (
        <Streamer key={route.room} room={route.room} />
      ) : (
        <Viewer key={route.room} room={route.room} />
      );
    case 'bad-room':
      return <NotFound path={pathname} problem={route.problem} />;
    case 'not-found':
      return <NotFound path={pathname} />;
  }
}
