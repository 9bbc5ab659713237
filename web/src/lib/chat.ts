// The chat of a room as one participant has seen it: live messages, and the
// history meetd sends first on every join, which replaces what was kept
// before a rejoin (so nothing shows twice).

import type { ChatMessage } from './protocol';

export interface ChatEntry {
  key: string;
  /** Who wrote it. */
  id: string;
  name: string;
  text: string;
  /** UTC, RFC 3339, as meetd sent it. */
  time: string;
  /** Written by this participant. */
  self: boolean;
  /** Sent before we joined. */
  history: boolean;
}

export class ChatLog {
  private list: ChatEntry[] = [];
  private count = 0;
  /** Set on joining; the first history message then starts the list afresh. */
  private fresh = false;

  constructor(private readonly kept = 500) {}

  get entries(): readonly ChatEntry[] {
    return this.list;
  }

  /** We (re)joined the room: history follows. */
  rejoined(): void {
    this.fresh = true;
  }

  /** Adds a message from meetd; returns the new entry. */
  add(m: ChatMessage, selfId: string | null): ChatEntry {
    const history = m.history === true;
    if (history && this.fresh) this.list = [];
    this.fresh = false;
    const entry: ChatEntry = {
      key: `c${++this.count}`,
      id: m.id,
      name: m.name,
      text: m.text,
      time: m.time,
      self: m.id !== '' && m.id === selfId,
      history,
    };
    this.list = [...this.list, entry].slice(-this.kept);
    return entry;
  }
}
