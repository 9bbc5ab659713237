import { Trans, useTranslation } from 'react-i18next';
import { useState, type FormEvent } from 'react';
import { Icon, Logo } from '../components/icons';
import { TopBar } from '../components/TopBar';
import { useTitle } from '../hooks/useTitle';
import { meetingPath, randomMeetingName, roomNameProblem } from '../lib/rooms';

/** Accepts a meeting name or a whole meeting link. */
function nameFrom(input: string): string {
  const text = input.trim();
  const m = /\/meet\/([^/?#]+)/.exec(text);
  return m ? decodeURIComponent(m[1]!) : text;
}

/** /meet: start a new meeting, or join one by its name. */
export function MeetHome() {
  const { t } = useTranslation();
  const [code, setCode] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  useTitle(t('titles.home'));

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
          <h1>{t('home.title')}</h1>
          <p className="home-lead">
            {t('home.lead')}
          </p>
          <div className="home-actions">
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => location.assign(meetingPath(randomMeetingName()))}
            >
              <Icon name="add" />
              {t('home.new')}
            </button>
            <form className="home-join" onSubmit={join} noValidate>
              <label className="visually-hidden" htmlFor="meeting-name">
                {t('home.nameLabel')}
              </label>
              <input
                id="meeting-name"
                type="text"
                placeholder={t('home.namePlaceholder')}
                value={code}
                aria-invalid={problem !== null}
                aria-describedby={problem ? 'meeting-name-problem' : undefined}
                onChange={(e) => {
                  setCode(e.target.value);
                  setProblem(null);
                }}
              />
              <button type="submit" className="btn btn-tonal" disabled={!code.trim()}>
                {t('home.join')}
              </button>
            </form>
          </div>
          {problem && (
            <p id="meeting-name-problem" className="message-error" role="alert">
              {problem}
            </p>
          )}
          <p className="hint">
            <Trans i18nKey="home.hint" components={{ code: <code />, live: <a href="/" /> }} />
          </p>
        </section>
        <aside className="home-art" aria-hidden="true">
          <Logo size={120} />
          <ul>
            <li>
              <Icon name="people" />
              {t('home.featureStage')}
            </li>
            <li>
              <Icon name="screen" />
              {t('home.featureScreen')}
            </li>
            <li>
              <Icon name="chat" />
              {t('home.featureChat')}
            </li>
          </ul>
        </aside>
      </main>
    </div>
  );
}
