import { useTranslation } from 'react-i18next';
import { useCallback, useEffect, useRef, useState } from 'react';
import { TopBar } from '../components/TopBar';
import { useTitle } from '../hooks/useTitle';
import {
  CHECKS,
  MEDIA_CHECKS,
  operatorHint,
  adviceIn,
  checkCandidates,
  checkMedia,
  checkWebSocket,
  summary,
  type CheckId,
  type CheckResult,
} from '../lib/diagnose';
import { signalingUrl } from '../lib/signaling';

const MARK: Record<CheckResult['outcome'], string> = { running: '…', ok: '✓', fail: '✗', absent: '—' };

/** /diagnose: what works from where this browser is, line by line, with what to do about failures. */
export function Diagnose() {
  const { t } = useTranslation();
  const [results, setResults] = useState<CheckResult[]>([]);
  const run = useRef(0);

  const start = useCallback(async () => {
    const mine = ++run.current;
    const set = (r: CheckResult) => {
      if (run.current === mine) setResults((old) => [...old.filter((x) => x.id !== r.id), r]);
    };
    setResults(CHECKS.map((c) => ({ id: c.id, outcome: 'running', detail: '' })));
    const url = signalingUrl(window.location);
    const ws = await checkWebSocket(url);
    set(ws.result);
    if (ws.result.outcome !== 'ok') {
      for (const id of ['candidates', ...MEDIA_CHECKS] as CheckId[]) {
        set({ id, outcome: 'fail', detail: t('diagnose.notChecked') });
      }
      return;
    }
    await Promise.all([
      checkCandidates(ws.iceServers)
        .then(set)
        .finally(ws.close),
      ...MEDIA_CHECKS.map((id) => checkMedia(url, id).then(set)),
    ]);
  }, []);

  useEffect(() => {
    void start();
    return () => {
      run.current++;
    };
  }, [start]);

  const done = results.length > 0 && results.every((r) => r.outcome !== 'running');
  // The administrator's part, once per distinct hint.
  const hints = CHECKS.map((c) => ({
    id: c.id,
    label: c.label,
    hint: operatorHint(c.id, results.find((r) => r.id === c.id)?.outcome ?? 'running'),
  })).filter((h, i, all) => h.hint !== '' && all.findIndex((x) => x.hint === h.hint) === i);
  useTitle(t('titles.diagnose'));
  return (
    <div className="app">
      <TopBar />
      <main className="layout layout-single">
        <section className="card message-card diagnose">
          <h1>{t('diagnose.title')}</h1>
          <p className="card-text">
            {t('diagnose.intro')}
          </p>
          <p data-testid="status" role="status" className="diagnose-summary">
            {summary(results)}
          </p>
          <ul className="diagnose-list">
            {CHECKS.map((c) => {
              const r = results.find((x) => x.id === c.id);
              const outcome = r?.outcome ?? 'running';
              return (
                <li key={c.id} data-testid={`check-${c.id}`} data-outcome={outcome} className={`check is-${outcome}`}>
                  <span className="check-mark" aria-hidden="true">
                    {MARK[outcome]}
                  </span>
                  <div>
                    <strong>{c.label}</strong>
                    <span className="check-outcome">
                      {' '}
                      {t(`diagnose.outcome.${outcome}`)}
                    </span>
                    {r?.detail && <p className="check-detail">{r.detail}</p>}
                    {adviceIn(results, c.id) && <p className="check-advice">{adviceIn(results, c.id)}</p>}
                  </div>
                </li>
              );
            })}
          </ul>
          {hints.length > 0 && (
            <details className="diagnose-operator" data-testid="operator-hints">
              <summary>{t('diagnose.operator.title')}</summary>
              <ul>
                {hints.map((h) => (
                  <li key={h.id}>
                    <strong>{h.label}</strong>: {h.hint}
                  </li>
                ))}
              </ul>
            </details>
          )}
          <button type="button" className="btn btn-tonal" disabled={!done} onClick={() => void start()}>
            {t('diagnose.again')}
          </button>
        </section>
      </main>
    </div>
  );
}
