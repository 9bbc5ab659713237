import { useTranslation } from 'react-i18next';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ChatEntry } from '../lib/chat';
import { chatClock, displayName } from '../lib/participants';
import { ChatText } from './ChatText';
import { SidePanel } from './SidePanel';
import { Icon } from './icons';

const MAX_TEXT = 2000;

/** The room's chat: messages with names and times, and a box to write one. */
export function ChatPanel({
  messages,
  canSend,
  onSend,
  onClose,
}: {
  messages: readonly ChatEntry[];
  canSend: boolean;
  onSend: (text: string) => boolean;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const [text, setText] = useState('');
  const list = useRef<HTMLOListElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => input.current?.focus(), []);
  // Follow new messages.
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);

  function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!text.trim()) return;
    if (onSend(text)) setText('');
  }

  return (
    <SidePanel title={t('chat.title')} onClose={onClose} testId="chat-panel">
      <ol className="chat-list" ref={list} aria-label={t('chat.messages')}>
        {messages.length === 0 && (
          <li className="chat-empty">{t('chat.empty')}</li>
        )}
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const same = prev && prev.id === m.id && chatClock(prev.time) === chatClock(m.time);
          return (
            <li key={m.key} className={`chat-msg ${same ? 'is-cont' : ''}`}>
              {!same && (
                <p className="chat-meta">
                  <span className="chat-name">{m.self ? t('chat.you') : displayName({ name: m.name, role: 'stage' })}</span>
                  <time dateTime={m.time}>{chatClock(m.time)}</time>
                </p>
              )}
              <p className="chat-text">
                <ChatText text={m.text} />
              </p>
            </li>
          );
        })}
      </ol>
      <form className="chat-form" onSubmit={submit}>
        <label className="visually-hidden" htmlFor="chat-input">
          {t('chat.label')}
        </label>
        <textarea
          id="chat-input"
          ref={input}
          rows={1}
          maxLength={MAX_TEXT}
          placeholder={canSend ? t('chat.placeholder') : t('status.reconnecting')}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) submit(e);
          }}
        />
        <button type="submit" className="icon-btn is-send" disabled={!canSend || !text.trim()} title={t('chat.sendTip')}>
          <Icon name="send" />
          <span className="visually-hidden">{t('chat.send')}</span>
        </button>
      </form>
    </SidePanel>
  );
}
