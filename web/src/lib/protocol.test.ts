import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  ERROR_CODES,
  ProtocolError,
  SERVER_MESSAGE_TYPES,
  decodeClientMessage,
  decodeServerMessage,
  encode,
  isClientMessage,
  type ClientMessage,
} from './protocol';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

interface Sample {
  section: string;
  json: string;
}

/** Every ```json block of the document, with the "## " section it is in. */
function samples(markdown: string): Sample[] {
  const out: Sample[] = [];
  let section = '';
  let block: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (block) {
      if (line.trim() === '```') {
        out.push({ section, json: block.join('\n') });
        block = null;
      } else {
        block.push(line);
      }
    } else if (line.startsWith('## ')) {
      section = line.slice(3).trim();
    } else if (line.trim() === '```json') {
      block = [];
    }
  }
  expect(block, 'unterminated ```json block').toBeNull();
  return out;
}

const all = samples(doc);
const fromClient = all.filter((s) => s.section === 'Messages from the client');
const fromServer = all.filter((s) => s.section === 'Messages from meetd');

describe('docs/protocol.md samples', () => {
  it('has samples in both directions and nowhere else', () => {
    expect(fromClient.length).toBeGreaterThan(0);
    expect(fromServer.length).toBeGreaterThan(0);
    expect(fromClient.length + fromServer.length).toBe(all.length);
  });

  it.each(all.map((s) => [s.section, s.json]))('%s: %s is valid JSON', (_section, json) => {
    expect(() => JSON.parse(json)).not.toThrow();
  });

  it.each(fromClient.map((s) => [s.json]))('client sample %s decodes', (json) => {
    const msg = decodeClientMessage(json);
    expect(msg).toEqual(JSON.parse(json));
    expect(isClientMessage(json)).toBe(true);
  });

  it.each(fromServer.map((s) => [s.json]))('server sample %s decodes', (json) => {
    expect(decodeServerMessage(json)).toEqual(JSON.parse(json));
  });

  it('has a client sample for every client message type', () => {
    const seen = new Set(fromClient.map((s) => JSON.parse(s.json).type));
    for (const type of CLIENT_MESSAGE_TYPES) expect(seen, `no sample of client "${type}"`).toContain(type);
  });

  it('has a server sample for every server message type', () => {
    const seen = new Set(fromServer.map((s) => JSON.parse(s.json).type));
    for (const type of SERVER_MESSAGE_TYPES) expect(seen, `no sample of server "${type}"`).toContain(type);
  });

  it('lists exactly the error codes the client knows', () => {
    const table = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect([...table].sort()).toEqual([...ERROR_CODES].sort());
  });
});

describe('decodeServerMessage', () => {
  const bad: [string, string][] = [
    ['not json', 'not json'],
    ['an empty object', '{}'],
    ['an unknown type', '{"type":"nope"}'],
    ['an offer without sdp', '{"type":"offer"}'],
    ['a state with a string live', '{"type":"state","live":"yes"}'],
    ['a state with a string live and all else', '{"type":"state","room":"a","live":"yes","viewers":1}'],
    ['a state with negative viewers', '{"type":"state","room":"a","live":true,"viewers":-1}'],
    ['a state with fractional viewers', '{"type":"state","room":"a","live":true,"viewers":1.5}'],
    ['a state with a string wasLive', '{"type":"state","room":"a","live":false,"viewers":1,"wasLive":"yes"}'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a number', '42'],
    ['a type that is not a string', '{"type":7}'],
    ['an answer with a numeric sdp', '{"type":"answer","sdp":1}'],
    ['a candidate without candidate', '{"type":"candidate","target":"publish"}'],
    ['a candidate with a bad target', '{"type":"candidate","target":"x","candidate":{"candidate":""}}'],
    ['a candidate with a numeric sdpMid', '{"type":"candidate","candidate":{"candidate":"","sdpMid":0}}'],
    ['a joined with a bad role', '{"type":"joined","room":"a","role":"king","id":"1","iceServers":[]}'],
    ['a joined with bad iceServers', '{"type":"joined","room":"a","role":"stage","id":"1","iceServers":{}}'],
    ['a joined with bad urls', '{"type":"joined","room":"a","role":"stage","id":"1","iceServers":[{"urls":3}]}'],
    ['an error without message', '{"type":"error","code":"internal"}'],
    ['a client-only message', '{"type":"join","room":"a","role":"stage"}'],
    ['a joined with a bad kind', '{"type":"joined","room":"a","kind":"party","role":"stage","id":"1"}'],
    ['participants that are not an array', '{"type":"participants","participants":{}}'],
    ['a participant without id', '{"type":"participants","participants":[{"name":"A","role":"stage"}]}'],
    ['a participant with a bad role', '{"type":"participants","participants":[{"id":"1","role":"king"}]}'],
    ['a participant with a string audio', '{"type":"participants","participants":[{"id":"1","role":"stage","audio":"yes"}]}'],
    ['a role without role', '{"type":"role"}'],
    ['a chat without text', '{"type":"chat","id":"1","name":"A","time":"2026-11-24T20:00:00Z"}'],
    ['a chat without time', '{"type":"chat","id":"1","name":"A","text":"hi"}'],
    ['a chat with a string history', '{"type":"chat","text":"hi","time":"t","history":"yes"}'],
    ['a speaker with a numeric id', '{"type":"speaker","id":5}'],
  ];
  it.each(bad)('rejects %s', (_what, text) => {
    expect(() => decodeServerMessage(text)).toThrow(ProtocolError);
  });

  it('says what is wrong', () => {
    expect(() => decodeServerMessage('not json')).toThrow(/not valid JSON/);
    expect(() => decodeServerMessage('{}')).toThrow(/no "type"/);
    expect(() => decodeServerMessage('{"type":"nope"}')).toThrow(/unknown message type "nope"/);
    expect(() => decodeServerMessage('{"type":"offer"}')).toThrow(/"sdp"/);
    expect(() => decodeServerMessage('{"type":"state","live":"yes"}')).toThrow(/"room"|"live"/);
  });

  it('accepts messages of the original plain clients', () => {
    // The original pages send candidates without a target.
    const m = decodeServerMessage('{"type":"candidate","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}');
    expect(m).toEqual({ type: 'candidate', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 } });
  });

  it('ignores unknown fields and fills in missing iceServers and kind', () => {
    expect(decodeServerMessage('{"type":"joined","room":"a","role":"audience","id":"x","extra":1}')).toEqual({
      type: 'joined',
      room: 'a',
      kind: 'broadcast',
      role: 'audience',
      id: 'x',
      iceServers: [],
    });
  });

  it('fills in what meetd leaves out when empty', () => {
    expect(decodeServerMessage('{"type":"speaker"}')).toEqual({ type: 'speaker', id: '' });
    expect(decodeServerMessage('{"type":"participants"}')).toEqual({ type: 'participants', participants: [] });
    expect(decodeServerMessage('{"type":"participants","participants":[{"id":"1","role":"audience"}]}')).toEqual({
      type: 'participants',
      participants: [{ id: '1', name: '', role: 'audience', host: false, audio: false, video: false, screen: '' }],
    });
    expect(decodeServerMessage('{"type":"chat","text":"hi","time":"t"}')).toEqual({
      type: 'chat',
      id: '',
      name: '',
      text: 'hi',
      time: 't',
    });
  });

  it('keeps ICE server credentials', () => {
    const m = decodeServerMessage(
      '{"type":"joined","room":"a","role":"stage","id":"x","iceServers":[{"urls":"turn:t","username":"u","credential":"p"}]}',
    );
    expect(m).toMatchObject({ iceServers: [{ urls: 'turn:t', username: 'u', credential: 'p' }] });
  });
});

describe('decodeClientMessage', () => {
  const bad = [
    'not json',
    '{}',
    '{"type":"nope"}',
    '{"type":"offer"}',
    '{"type":"join","room":"a"}',
    '{"type":"join","room":"a","role":"king"}',
    '{"type":"join","room":5,"role":"stage"}',
    '{"type":"join","room":"a","role":"stage","name":5}',
    '{"type":"candidate"}',
    '{"type":"state","room":"a","live":true,"viewers":1}',
    '{"type":"join","room":"a","kind":"party","role":"stage"}',
    '{"type":"media","audio":true}',
    '{"type":"media","audio":"on","video":true}',
    '{"type":"media","audio":true,"video":true,"screen":5}',
    '{"type":"chat"}',
    '{"type":"role","role":"stage"}',
    '{"type":"role","id":"1","role":"king"}',
  ];
  it.each(bad)('rejects %s', (text) => {
    expect(() => decodeClientMessage(text)).toThrow(ProtocolError);
    expect(isClientMessage(text)).toBe(false);
  });
});

describe('encode', () => {
  const messages: ClientMessage[] = [
    { type: 'join', room: 'default', role: 'stage' },
    { type: 'join', room: 'r', role: 'audience', name: 'Ana' },
    { type: 'join', room: 'r', kind: 'meeting', role: 'stage', name: 'Ana' },
    { type: 'media', audio: false, video: true, screen: '' },
    { type: 'chat', text: 'hello' },
    { type: 'role', id: 'p1', role: 'audience' },
    { type: 'offer', sdp: 'v=0\r\n' },
    { type: 'answer', sdp: 'v=0\r\n' },
    { type: 'candidate', target: 'subscribe', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 } },
    { type: 'leave' },
  ];
  it.each(messages)('round-trips $type', (msg) => {
    expect(decodeClientMessage(encode(msg))).toEqual(msg);
  });
});
