import { useState, type FormEvent } from 'react';
import { Icon } from '../components/icons';
import { TopBar } from '../components/TopBar';
import { meetingPath, randomMeetingName, roomNameProblem } from '../lib/rooms';

/** Accepts a meeting name or a whole meeting link. */
function nameFrom(input: string): string {
  const text = input.trim();
  const m = /\/meet\/([^/?#]+)/.exec(text);
  return m ? decodeURIComponent(m[1]!) : text;
}

/** /meet: start a new meeting, or join one by its name. */
export function MeetHome() {
  const [code, setCode] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  function join(e: FormEvent) {
    e.preventDefault();
    const name = nameFrom(code);
    const why = roomNameProblem(name, 'meeting');
    if (why) {
      setProblem(why);
      return;
    }
    location.assign(meetingPath(name));
  }

  return (
    <div className="app">
      <TopBar />
      <main className="home">
        <section className="home-hero">
          <h1>Video meetings for everyone</h1>
          <p className="home-lead">
            Meet with up to 16 people on this meetd server. Everyone on stage sees and hears everyone; others
            can watch.
          </p>
          <div className="home-actions">
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => location.assign(meetingPath(randomMeetingName()))}
            >
              <Icon name="add" />
              New meeting
            </button>
            <form className="home-join" onSubmit={join} noValidate>
              <label className="visually-hidden" htmlFor="meeting-name">
                Meeting name
              </label>
              <input
                id="meeting-name"
                type="text"
                placeholder="Enter a meeting name"
                value={code}
                aria-invalid={problem !== null}
                aria-describedby={problem ? 'meeting-name-problem' : undefined}
                onChange={(e) => {
                  setCode(e.target.value);
                  setProblem(null);
                }}
              />
              <button type="submit" className="btn btn-tonal" disabled={!code.trim()}>
                Join
              </button>
            </form>
          </div>
          {problem && (
            <p id="meeting-name-problem" className="message-error" role="alert">
              {problem}
            </p>
          )}
          <p className="hint">
            Every meeting has its own address, <code>/meet/NAME</code>: share it, and whoever opens it joins the
            same meeting. To broadcast to many people instead, <a href="/">go live</a>.
          </p>
        </section>
      </main>
    </div>
  );
}
