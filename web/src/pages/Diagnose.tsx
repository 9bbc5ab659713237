import { useCallback, useEffect, useRef, useState } from 'react';
import { TopBar } from '../components/TopBar';
import {
  CHECKS,
  MEDIA_CHECKS,
  advice,
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
        set({ id, outcome: 'fail', detail: 'Not checked: signaling does not work.' });
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
  return (
    <div className="app">
      <TopBar />
      <main className="layout layout-single">
        <section className="card message-card diagnose">
          <h1>Connection check</h1>
          <p className="card-text">
            This page tries every way media can travel between your browser and this meetd server, from where
            you are now.
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
                      {outcome === 'ok'
                        ? ' works'
                        : outcome === 'fail'
                          ? ' fails'
                          : outcome === 'absent'
                            ? ' not offered by this server'
                            : ' checking…'}
                    </span>
                    {r?.detail && <p className="check-detail">{r.detail}</p>}
                    {advice(c.id, outcome) && <p className="check-advice">{advice(c.id, outcome)}</p>}
                  </div>
                </li>
              );
            })}
          </ul>
          <button type="button" className="btn btn-tonal" disabled={!done} onClick={() => void start()}>
            Check again
          </button>
        </section>
      </main>
    </div>
  );
}
