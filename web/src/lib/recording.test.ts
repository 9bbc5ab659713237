import { describe, expect, it } from 'vitest';
import { formatElapsed } from '../i18n';
import { decodeServerMessage, type RecordingMessage } from './protocol';
import { RecordingTracker, recordingEventText } from './recording';

const on = (id: string, since: number, by = 'Ana'): RecordingMessage => ({ type: 'recording', on: true, id, since, by });
const off = (id: string, reason = 'stopped', message = ''): RecordingMessage => ({
  type: 'recording',
  on: false,
  id,
  reason,
  message,
});

describe('formatElapsed (the REC badge)', () => {
  it.each([
    [0, '0:00'],
    [999, '0:00'],
    [1000, '0:01'],
    [59_999, '0:59'],
    [60_000, '1:00'],
    [754_000, '12:34'],
    [3_600_000, '1:00:00'],
    [3_661_000, '1:01:01'],
    [-5000, '0:00'], // meetd's clock a little ahead of ours
  ])('%i ms is %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});

describe('decoding recording messages', () => {
  it('reads a start and a stop', () => {
    expect(decodeServerMessage('{"type":"recording","on":true,"id":"r1","since":1700000000000,"by":"Ana"}')).toEqual(
      on('r1', 1_700_000_000_000),
    );
    expect(decodeServerMessage('{"type":"recording","on":false,"id":"r1","reason":"disk_full","message":"Disk full."}')).toEqual(
      off('r1', 'disk_full', 'Disk full.'),
    );
  });

  it('fills in what is left out of a stop, and refuses a start without its time', () => {
    expect(decodeServerMessage('{"type":"recording","on":false}')).toEqual(off('', 'stopped', ''));
    expect(() => decodeServerMessage('{"type":"recording","on":true,"id":"r1"}')).toThrow(/since/);
    expect(() => decodeServerMessage('{"type":"recording","on":"yes"}')).toThrow(/on/);
  });
});

describe('RecordingTracker', () => {
  it('announces a start and a stop once each', () => {
    const r = new RecordingTracker();
    const now = 1_000_000;
    expect(r.update(on('r1', now - 100), now)).toEqual({ type: 'started', by: 'Ana', joined: false });
    expect(r.current).toEqual({ id: 'r1', since: now - 100, by: 'Ana' });
    expect(r.update(on('r1', now - 100), now)).toBeNull();
    expect(r.update(off('r1', 'disk_full', 'full'), now)).toEqual({ type: 'stopped', reason: 'disk_full', message: 'full' });
    expect(r.current).toBeNull();
    expect(r.update(off('r1'), now)).toBeNull();
  });

  it('says a recording that ran before we came is running, not that it started', () => {
    const r = new RecordingTracker();
    expect(r.update(on('r1', 0), 60_000)).toEqual({ type: 'started', by: 'Ana', joined: true });
  });

  it('does not announce the same recording again after a rejoin, but shows nothing until meetd says', () => {
    const r = new RecordingTracker();
    r.update(on('r1', 0), 1000);
    r.rejoined();
    expect(r.current).toBeNull();
    expect(r.update(on('r1', 0), 90_000)).toBeNull();
    expect(r.current?.id).toBe('r1');
    // A new recording after a rejoin is news.
    r.rejoined();
    expect(r.update(on('r2', 90_000), 90_500)).toEqual({ type: 'started', by: 'Ana', joined: false });
  });

  it('takes an error as the refusal of a record request only while one waits', () => {
    const r = new RecordingTracker();
    expect(r.refusal('not_host', 'Only the host can record.')).toBeNull();
    r.requested();
    expect(r.refusal('bad_sdp', 'x')).toBeNull();
    expect(r.refusal('record_unavailable', 'Too little disk space.')).toEqual({
      type: 'refused',
      code: 'record_unavailable',
      message: 'Too little disk space.',
    });
    expect(r.refusal('not_host', 'again')).toBeNull();
    r.requested();
    r.update(on('r1', 0), 0);
    expect(r.refusal('not_host', 'late')).toBeNull();
  });
});

describe('recording notices', () => {
  it('name who started it, and say why it stopped', () => {
    expect(recordingEventText({ type: 'started', by: 'Ana', joined: false })).toBe(
      'Ana started recording. Everyone here is being recorded.',
    );
    expect(recordingEventText({ type: 'started', by: '', joined: false })).toBe(
      'Recording started. Everyone here is being recorded.',
    );
    expect(recordingEventText({ type: 'started', by: 'Ana', joined: true })).toBe(
      'This room is being recorded (started by Ana).',
    );
    expect(recordingEventText({ type: 'stopped', reason: 'stopped', message: '' })).toBe('Recording stopped.');
    expect(recordingEventText({ type: 'stopped', reason: 'disk_full', message: '' })).toMatch(/disk space/);
    expect(recordingEventText({ type: 'stopped', reason: 'ended', message: '' })).toMatch(/room ended/);
    expect(recordingEventText({ type: 'stopped', reason: 'error', message: 'the writer failed' })).toBe(
      'Recording stopped because of an error: the writer failed',
    );
    expect(recordingEventText({ type: 'refused', code: 'not_host', message: 'Only the host can record.' })).toBe(
      'Could not record: Only the host can record.',
    );
  });
});
