import { parseRoute } from './lib/rooms';
import { Diagnose } from './pages/Diagnose';
import { MeetHome } from './pages/MeetHome';
import { Meeting } from './pages/Meeting';
import { NotFound } from './pages/NotFound';
import { Recordings } from './pages/Recordings';
import { Replay } from './pages/Replay';
import { Streamer } from './pages/Streamer';
import { Viewer } from './pages/Viewer';

/** Picks the page from the address; every page is a full page load, so no router is needed. */
export function App({ pathname }: { pathname: string }) {
  const route = parseRoute(pathname);
  switch (route.kind) {
    case 'page':
      switch (route.page) {
        case 'streamer':
          return <Streamer key={route.room} room={route.room} />;
        case 'viewer':
          return <Viewer key={route.room} room={route.room} />;
        case 'meeting':
          return <Meeting key={route.room} room={route.room} />;
      }
      break;
    case 'meet-home':
      return <MeetHome />;
    case 'diagnose':
      return <Diagnose />;
    case 'recordings':
      return <Recordings />;
    case 'replay':
      return <Replay id={route.id} />;
    case 'bad-room':
      return <NotFound path={pathname} problem={route.problem} page={route.page} name={route.name} />;
    case 'not-found':
      return <NotFound path={pathname} />;
  }
}
