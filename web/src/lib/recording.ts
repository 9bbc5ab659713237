// Whether the room is being recorded, as meetd says (`recording` messages),
// and what to tell the people in it. Everyone in a recorded room sees it: the
// sessions (meeting.ts, publisher.ts) keep a RecordingTracker, the pages show
// a REC badge while `current` is set and a notice for every event.

import { serverErrorText, t } from '../i18n';
import type { RecordingMessage } from './protocol';

/** A recording that runs: since when (ms since 1970, meetd's clock) and who started it. */
export interface RecordingState {
  id: string;
  since: number;
  by: string;
}

export type RecordingEvent =
  /** A recording started; `joined`: it ran before we came (or came back). */
  | { type: 'started'; by: string; joined: boolean }
  | { type: 'stopped'; reason: string; message: string }
  /** meetd refused our record request; words from meetd. */
  | { type: 'refused'; code: string; message: string };

/** Errors meetd answers a `record` with. */
const REFUSALS = new Set(['not_host', 'not_allowed', 'record_unavailable', 'rate_limited', 'internal']);

/** A recording that started this long before we heard of it was running before we came. */
const ALREADY_RUNNING_MS = 5000;

export class RecordingTracker {
  private state: RecordingState | null = null;
  /** A `record` we sent waits for meetd's answer. */
  private asked = false;
  /** The recording that ran when the connection dropped: its `recording` again after the rejoin is no news. */
  private beforeDrop: string | null = null;

  get current(): RecordingState | null {
    return this.state;
  }

  /** We sent a `record`: an error that follows is its refusal. */
  requested(): void {
    this.asked = true;
  }

  /** meetd's `recording`: the new state, and the event to announce (null when nothing changed). */
  update(m: RecordingMessage, now: number = Date.now()): RecordingEvent | null {
    this.asked = false;
    if (m.on) {
      const known = this.state?.id === m.id || this.beforeDrop === m.id;
      this.beforeDrop = null;
      this.state = { id: m.id, since: m.since, by: m.by };
      if (known) return null;
      return { type: 'started', by: m.by, joined: now - m.since > ALREADY_RUNNING_MS };
    }
    this.beforeDrop = null;
    if (this.state === null) return null;
    this.state = null;
    return { type: 'stopped', reason: m.reason, message: m.message };
  }

  /** An error from meetd: the refusal of our `record` (returned), or something else (null). */
  refusal(code: string, message: string): RecordingEvent | null {
    if (!this.asked || !REFUSALS.has(code)) return null;
    this.asked = false;
    return { type: 'refused', code, message };
  }

  /**
   * We (re)joined: meetd sends `recording` right after `joined` when one runs.
   * Until it does, the room is not shown as recorded; the same recording
   * coming back is not announced again.
   */
  rejoined(): void {
    this.beforeDrop = this.state?.id ?? this.beforeDrop;
    this.state = null;
    this.asked = false;
  }
}

/** Words for a recording event, for a notice. */
export function recordingEventText(e: RecordingEvent): string {
  switch (e.type) {
    case 'started': {
      const by = e.by.trim();
      if (e.joined) return by ? t('recording.runningBy', { name: by }) : t('recording.running');
      return by ? t('recording.startedBy', { name: by }) : t('recording.started');
    }
    case 'stopped':
      return stoppedText(e.reason, e.message);
    case 'refused':
      return t('recording.refused', { words: serverErrorText(e.code, e.message) });
  }
}

function stoppedText(reason: string, message: string): string {
  switch (reason) {
    case 'disk_full':
      return t('recording.stoppedDisk');
    case 'ended':
      return t('recording.stoppedEnded');
    case 'error':
      return message ? t('recording.stoppedErrorWords', { words: message }) : t('recording.stoppedError');
    default:
      return t('recording.stopped');
  }
}
