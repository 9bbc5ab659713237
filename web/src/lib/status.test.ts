import { describe, expect, it } from 'vitest';
import type { PublisherState } from './publisher';
import { streamerStatus, viewerCountText, viewerStatus } from './status';

const pub = (p: Partial<PublisherState>): PublisherState => ({
  status: 'idle',
  error: null,
  notice: null,
  viewers: null,
  auth: null,
  ...p,
});

describe('streamer status', () => {
  it.each([
    [pub({}), null, 'Preview'],
    [pub({}), 'Camera and microphone permission denied.', 'Error: Camera and microphone permission denied.'],
    [pub({ status: 'connecting' }), null, 'Connecting…'],
    [pub({ status: 'live' }), null, 'Live'],
    [pub({ status: 'reconnecting' }), null, 'Reconnecting…'],
    [pub({ status: 'error', error: 'Cannot reach the meetd server at h.' }), null, 'Error: Cannot reach the meetd server at h.'],
  ])('%j / %s → %s', (state, media, want) => {
    expect(streamerStatus(state, media)).toBe(want);
  });
});

describe('viewer status', () => {
  it.each([
    ['connecting', false, 'Connecting…'],
    ['waiting', false, 'Waiting for the stream to start…'],
    ['negotiating', false, 'Connecting…'],
    ['media', false, 'Connecting…'],
    ['media', true, 'Live'],
    ['ended', false, 'The stream has ended.'],
    ['reconnecting', false, 'Reconnecting…'],
  ] as const)('%s (playing %s) → %s', (phase, playing, want) => {
    expect(viewerStatus(phase, null, playing)).toBe(want);
  });
  it('shows errors', () => {
    expect(viewerStatus('error', 'Nope.', false)).toBe('Error: Nope.');
  });
});

describe('viewer count', () => {
  it.each([
    [0, '0 viewers'],
    [1, '1 viewer'],
    [2, '2 viewers'],
    [31, '31 viewers'],
  ])('%i → %s', (n, want) => {
    expect(viewerCountText(n)).toBe(want);
  });
});
