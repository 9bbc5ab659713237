import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';
import { PasswordDialog } from '../components/PasswordDialog';
import { Credentials, isAuthError, tokenFromSearch } from './auth';
import { acceptSocket, FakeSocket, settle } from './fakes.testutil';
import type { MeetingOptions } from './meeting';
import { fakeMeeting, fakePublisher, withFakes } from './sessions.testutil';
import { streamerStatus, viewerPhase } from './status';

const REQUIRED = { type: 'error', code: 'auth_required', message: '"board" needs a password or an invitation link.' };
const WRONG = { type: 'error', code: 'bad_credentials', message: 'That password for "board" is wrong.' };

function meeting(over: Partial<MeetingOptions> = {}) {
  return fakeMeeting({ room: 'board', kind: 'meeting', role: 'stage', ...over }).meeting;
}

function publisher(credentials?: Credentials) {
  return fakePublisher({ room: 'team', credentials }).pub;
}

/** Opens the latest socket and returns it with what it sent first. */
async function opened(): Promise<{ ws: FakeSocket; join: Record<string, unknown> }> {
  const ws = await acceptSocket();
  return { ws, join: ws.sentOf('join')[0]! };
}

withFakes();

describe('credentials', () => {
  it('takes the token from the page address', () => {
    expect(tokenFromSearch('?token=eyJ.abc.def')).toBe('eyJ.abc.def');
    expect(tokenFromSearch('?x=1&token=t%2Bu')).toBe('t+u');
    expect(tokenFromSearch('?token=')).toBeUndefined();
    expect(tokenFromSearch('')).toBeUndefined();
  });

  it('sends the token until a password is typed, then the password alone', () => {
    const c = new Credentials('tok');
    expect(c.join).toEqual({ token: 'tok' });
    c.usePassword('secret');
    expect(c.join).toEqual({ password: 'secret' });
    expect(new Credentials().join).toEqual({});
    expect(isAuthError('auth_required') && isAuthError('bad_credentials') && !isAuthError('room_full')).toBe(true);
  });
});

describe('rooms that need a password or a token', () => {
  it('sends the token from the address in join', async () => {
    const m = meeting({ credentials: new Credentials(tokenFromSearch('?token=abc.def.ghi')) });
    m.start();
    const { join } = await opened();
    expect(join).toEqual({ type: 'join', room: 'board', kind: 'meeting', role: 'stage', token: 'abc.def.ghi' });
  });

  it('asks for a password on auth_required, joins with it, and keeps it for reconnects', async () => {
    const m = meeting();
    m.start();
    const first = await opened();
    expect(first.join).not.toHaveProperty('password');
    first.ws.receive(REQUIRED);
    await settle();
    expect(m.current).toMatchObject({ status: 'auth', auth: { code: 'auth_required', message: REQUIRED.message } });
    expect(first.ws.readyState).toBe(3);
    // No reconnect loop while the form is up.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);

    m.authenticate('secret');
    expect(m.current.status).toBe('connecting');
    const second = await opened();
    expect(second.join).toEqual({ type: 'join', room: 'board', kind: 'meeting', role: 'stage', password: 'secret' });
    second.ws.receive({ type: 'joined', room: 'board', kind: 'meeting', role: 'stage', id: 'me', iceServers: [] });
    await settle();
    expect(m.current).toMatchObject({ status: 'joined', auth: null });

    second.ws.drop();
    await vi.advanceTimersByTimeAsync(1000);
    const third = await opened();
    expect(third.join).toMatchObject({ password: 'secret' });
  });

  it('shows the message of bad_credentials and asks again', async () => {
    const m = meeting({ credentials: new Credentials('expired') });
    m.start();
    const { ws } = await opened();
    ws.receive({ ...WRONG, message: 'The invitation for "board" is not valid: it has expired.' });
    await settle();
    expect(m.current).toMatchObject({
      status: 'auth',
      auth: { code: 'bad_credentials', message: 'The invitation for "board" is not valid: it has expired.' },
    });
    m.authenticate('guess');
    const next = await opened();
    expect(next.join).toMatchObject({ password: 'guess' });
    expect(next.join).not.toHaveProperty('token');
    next.ws.receive(WRONG);
    await settle();
    expect(m.current.auth).toEqual({ code: 'bad_credentials', message: WRONG.message });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('asks a viewer for a password', async () => {
    const m = meeting({ kind: 'broadcast', role: 'audience' });
    m.start();
    const { ws } = await opened();
    ws.receive(REQUIRED);
    await settle();
    expect(viewerPhase(m.current, 'meetd.test')).toEqual({ phase: 'auth', error: null });
  });

  it('asks the streamer for a password, and sends the token and then the password', async () => {
    const p = publisher(new Credentials('tok'));
    p.start();
    const first = await opened();
    expect(first.join).toEqual({ type: 'join', room: 'team', role: 'stage', token: 'tok' });
    first.ws.receive(WRONG);
    await settle();
    expect(p.current).toMatchObject({ status: 'auth', auth: { code: 'bad_credentials', message: WRONG.message } });
    expect(streamerStatus(p.current, null)).toBe('Password needed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);

    p.authenticate('secret');
    const second = await opened();
    expect(second.join).toEqual({ type: 'join', room: 'team', role: 'stage', password: 'secret' });
  });
});

describe('the password form', () => {
  const render = (code: 'auth_required' | 'bad_credentials', message: string) =>
    renderToStaticMarkup(createElement(PasswordDialog, { prompt: { code, message }, onSubmit: () => {} }));

  it('has a Password field and a Continue button', () => {
    const html = render('auth_required', REQUIRED.message.replace(/"/g, ''));
    expect(html).toMatch(/<label for="[^"]+">Password<\/label>/);
    expect(html).toContain('type="password"');
    expect(html).toMatch(/<button type="submit"[^>]*>Continue<\/button>/);
  });

  it("shows meetd's words when the password was wrong", () => {
    const html = render('bad_credentials', 'That password for board is wrong.');
    expect(html).toContain('role="alert"');
    expect(html).toContain('That password for board is wrong.');
  });
});

describe('meetd restarting', () => {
  it('shows Reconnecting for a meeting, not an error, and comes back with backoff', async () => {
    const events: unknown[] = [];
    const m = meeting({ onEvent: (e) => events.push(e) });
    m.start();
    const { ws } = await opened();
    ws.receive({ type: 'joined', room: 'board', kind: 'meeting', role: 'stage', id: 'me', iceServers: [] });
    await settle();
    ws.receive({ type: 'error', code: 'shutting_down', message: 'meetd is restarting; reconnecting in a moment.' });
    ws.drop();
    await settle();
    expect(m.current).toMatchObject({ status: 'reconnecting', error: null });
    expect(events).toEqual([]);
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('reconnects a viewer that is still joining', async () => {
    const m = meeting({ kind: 'broadcast', role: 'audience' });
    m.start();
    const { ws } = await opened();
    ws.receive({ type: 'error', code: 'shutting_down', message: 'meetd is restarting; reconnecting in a moment.' });
    await settle();
    expect(viewerPhase(m.current, 'meetd.test').phase).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('shows Reconnecting for the streamer, before and after going live', async () => {
    const p = publisher();
    p.start();
    const { ws } = await opened();
    ws.receive({ type: 'error', code: 'shutting_down', message: 'meetd is restarting; reconnecting in a moment.' });
    await settle();
    expect(p.current).toMatchObject({ status: 'reconnecting', error: null });
    expect(streamerStatus(p.current, null)).toBe('Reconnecting…');
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(2);
  });
});
