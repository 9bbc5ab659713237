// The UI in the browser's language: with Chromium set to Korean, a meeting and
// a broadcast run as usual, every page shows Korean, and a language chosen in
// Settings is kept after a reload.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectKorean } from '../lib/language.mjs';
import { expectFramesGrow } from '../lib/media.mjs';

const KO = { locale: 'ko-KR' };

test(
  'in Korean: a meeting of two, its pages and Settings',
  e2e(async (w) => {
    const ana = await w.user('ana-ko', '/meet', KO);
    await ana.page.getByRole('heading', { level: 1, name: '모두를 위한 화상 회의' }).waitFor();
    await expectKorean(ana, '/meet');

    await ana.page.getByRole('button', { name: '새 회의' }).click();
    await ana.page.waitForURL(/\/meet\/[a-z]+-[a-z]+-\d+$/);
    const room = new URL(ana.page.url()).pathname.split('/').pop();
    await ana.page.getByRole('heading', { level: 1, name: '참여할 준비가 되셨나요?' }).waitFor();
    await expectFramesGrow(ana, '[data-testid="local-video"]');
    await waitForStatus(ana, '미리 보기');
    await expectKorean(ana, 'the pre-join page');

    const ben = await w.user('ben-ko', `/meet/${room}`, KO);
    for (const [u, name] of [
      [ana, 'Ana'],
      [ben, 'Ben'],
    ]) {
      await u.page.getByLabel('내 이름').fill(name);
      await u.page.getByRole('button', { name: '지금 참여' }).click();
      await waitForStatus(u, '통화 중');
    }
    // Each sees the other's camera.
    await expectFramesGrow(ana, 'figure[data-testid="tile"][aria-label="Ben"] video');
    await expectFramesGrow(ben, 'figure[data-testid="tile"][aria-label="Ana"] video');
    assert.equal(await ana.page.title(), `회의 ${room} · meetd`);
    await expectKorean(ana, 'the call');

    await ana.page.getByRole('button', { name: '채팅', exact: true }).click();
    await ana.page.getByRole('heading', { name: '통화 중 메시지' }).waitFor();
    await expectKorean(ana, 'the call with the chat open');
    await ana.page.getByRole('button', { name: '참가자', exact: true }).click();
    await ana.page.getByRole('heading', { name: '사람들' }).waitFor();
    await expectKorean(ana, 'the call with People open');

    // English chosen in Settings, and remembered.
    await ben.page.getByRole('button', { name: '설정', exact: true }).click();
    await ben.page.getByTestId('settings-panel').getByLabel('언어').selectOption('en');
    await waitForStatus(ben, 'In call');
    await ben.page.reload();
    await ben.page.getByRole('heading', { level: 1, name: 'Ready to join?' }).waitFor();
    assert.equal(await ben.page.evaluate(() => document.documentElement.lang), 'en');

    await ana.page.getByRole('button', { name: '나가기', exact: true }).click();
    await ana.page.getByRole('heading', { level: 1, name: '회의에서 나왔습니다' }).waitFor();
    await expectKorean(ana, 'the page after leaving');
  }),
);

test(
  'in Korean: a broadcast, the connection check and an error page',
  e2e(async (w) => {
    const streamer = await w.user('streamer-ko', '/', KO);
    await expectFramesGrow(streamer, '[data-testid="local-video"]');
    await waitForStatus(streamer, '미리 보기');
    await expectKorean(streamer, '/');

    const viewer = await w.user('viewer-ko', '/viewer', KO);
    await waitForStatus(viewer, '방송이 시작되기를 기다리는 중…');
    await expectKorean(viewer, '/viewer before the stream');

    await streamer.page.getByRole('button', { name: '방송 시작' }).click();
    await waitForStatus(streamer, '방송 중');
    await waitForStatus(viewer, '방송 중');
    await expectFramesGrow(viewer, '[data-testid="remote-video"]');
    await streamer.page.getByTestId('viewer-count').filter({ hasText: '시청자 1명' }).waitFor();
    await expectKorean(streamer, '/ while live');
    await expectKorean(viewer, '/viewer while live');

    const checker = await w.user('diagnose-ko', '/diagnose', KO);
    await checker.page.getByRole('heading', { level: 1, name: '연결 점검' }).waitFor();
    await waitForStatus(checker, /^여기서 meetd를 쓸 수 있습니다/, 30_000);
    await expectKorean(checker, '/diagnose');

    await checker.goto(w.server.url('/meet/bad!name'));
    await checker.page.getByRole('heading', { level: 1, name: '회의 이름이 올바르지 않습니다' }).waitFor();
    await expectKorean(checker, 'a bad meeting name');
  }),
);
