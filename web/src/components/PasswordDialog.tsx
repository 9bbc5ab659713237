import { useTranslation } from 'react-i18next';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { serverErrorText } from '../i18n';
import type { AuthPrompt } from '../lib/auth';
import { Notice } from './Notice';

/**
 * The room needs a password (meetd answered `auth_required`), or the one
 * given was wrong (`bad_credentials`, with meetd's words): ask for it.
 */
export function PasswordDialog({
  prompt,
  onSubmit,
  onCancel,
}: {
  prompt: AuthPrompt;
  onSubmit: (password: string) => void;
  onCancel?: () => void;
}) {
  const { t } = useTranslation();
  const id = useId();
  const [password, setPassword] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), [prompt]);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (password) onSubmit(password);
  }

  const wrong = prompt.code === 'bad_credentials';
  const message = serverErrorText(prompt.code, prompt.message);
  return (
    <div className="dialog-backdrop">
      <form
        className="dialog password-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        onSubmit={submit}
      >
        <h2 id={`${id}-title`}>{wrong ? t('password.wrongTitle') : t('password.title')}</h2>
        {wrong ? (
          <Notice tone="error" title={message} />
        ) : (
          <p>{t('password.ask', { message })}</p>
        )}
        <div className="field">
          <label htmlFor={`${id}-password`}>{t('password.label')}</label>
          <input
            ref={input}
            id={`${id}-password`}
            type="password"
            autoComplete="current-password"
            maxLength={256}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div className="dialog-actions">
          {onCancel && (
            <button type="button" className="btn btn-tonal" onClick={onCancel}>
              {t('common.cancel')}
            </button>
          )}
          <button type="submit" className="btn btn-primary" disabled={!password}>
            {t('password.continue')}
          </button>
        </div>
      </form>
    </div>
  );
}
