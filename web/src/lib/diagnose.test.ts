import { describe, expect, it } from 'vitest';
import { advice, adviceIn, CHECKS, operatorHint, parseCandidate, summary, turnServerFor, turnTransport, usesCandidate, type CheckResult } from './diagnose';

const servers = [
  {
    urls: [
      'turn:meet.example.org:3478?transport=udp',
      'turn:meet.example.org:3478?transport=tcp',
      'turns:meet.example.org:443?transport=tcp',
    ],
    username: '1795550400:5d1e9a0b3c2f',
    credential: 'secret',
  },
  { urls: 'stun:stun.example.org:3478' },
];

describe('TURN servers', () => {
  it('sorts URLs by transport', () => {
    expect(turnTransport('turn:h:3478?transport=udp')).toBe('turn-udp');
    expect(turnTransport('turn:h:3478')).toBe('turn-udp');
    expect(turnTransport('turn:h:3478?transport=tcp')).toBe('turn-tcp');
    expect(turnTransport('turns:h:443?transport=tcp')).toBe('turn-tls');
    expect(turnTransport('stun:h:3478')).toBeNull();
  });

  it('picks one URL with its credential', () => {
    expect(turnServerFor(servers, 'turn-tcp')).toEqual({ ...servers[0], urls: ['turn:meet.example.org:3478?transport=tcp'] });
    expect(turnServerFor([servers[1]], 'turn-udp')).toBeNull();
  });
});

describe('candidates', () => {
  const udp = 'candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host';
  const tcp = 'candidate:2 1 tcp 1671430143 127.0.0.1 3480 typ host tcptype passive';
  it('are parsed', () => {
    expect(parseCandidate(udp)).toEqual({ protocol: 'udp', type: 'host' });
    expect(parseCandidate(`a=${tcp}`)).toEqual({ protocol: 'tcp', type: 'host' });
    expect(parseCandidate('nonsense')).toBeNull();
  });
  it('are kept to the check’s transport', () => {
    expect(usesCandidate('udp', udp)).toBe(true);
    expect(usesCandidate('udp', tcp)).toBe(false);
    expect(usesCandidate('tcp', tcp)).toBe(true);
    expect(usesCandidate('turn-udp', tcp)).toBe(true);
  });
});

describe('words', () => {
  const all = (outcome: CheckResult['outcome']): CheckResult[] => CHECKS.map((c) => ({ id: c.id, outcome, detail: '' }));

  it('advise on every failure and absence, not on success', () => {
    for (const c of CHECKS) {
      expect(advice(c.id, 'ok')).toBe('');
      expect(advice(c.id, 'fail').length).toBeGreaterThan(20);
      expect(advice(c.id, 'absent').length).toBeGreaterThan(20);
    }
    expect(advice('udp', 'fail')).toMatch(/blocks this kind of media traffic \(UDP\)/);
  });

  it('sum up', () => {
    expect(summary(all('running'))).toBe('Checking…');
    expect(summary(all('fail'))).toMatch(/cannot work from here/);
    const udpOnly = all('absent').map((r) =>
      r.id === 'websocket' || r.id === 'candidates' || r.id === 'udp' ? { ...r, outcome: 'ok' as const } : r,
    );
    expect(summary(udpOnly)).toBe('meetd works from here: media flows over UDP.');
    const noMedia = udpOnly.map((r) => (r.id === 'udp' ? { ...r, outcome: 'fail' as const } : r));
    expect(summary(noMedia)).toMatch(/Sound and video cannot reach this server/);
    const two = udpOnly.map((r) => (r.id === 'tcp' ? { ...r, outcome: 'ok' as const } : r));
    expect(summary(two)).toBe('meetd works from here: media flows over UDP and over TCP.');
  });

  it('explain an unused relay once, and keep the administrator\'s words apart', () => {
    const results = all('absent');
    expect(adviceIn(results, 'turn-udp')).toMatch(/does not offer a relay/);
    expect(adviceIn(results, 'turn-tcp')).toBe('');
    expect(adviceIn(results, 'turn-tls')).toBe('');
    for (const c of CHECKS) expect(advice(c.id, 'absent')).not.toMatch(/-turn|-tcp-port|-udp-port/);
    expect(operatorHint('turn-udp', 'absent')).toMatch(/-turn/);
    expect(operatorHint('udp', 'fail')).toMatch(/-udp-port/);
    expect(operatorHint('udp', 'ok')).toBe('');
  });
});
