import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { currentLanguage, LANGUAGE_NAMES, LANGUAGES, setLanguage, type Language } from '../i18n';

/** A labelled <select> of the UI's language; the choice is remembered in this browser. */
export function LanguagePicker({ compact = false }: { compact?: boolean }) {
  const { t, i18n } = useTranslation();
  const id = useId();
  void i18n.language; // re-render on a change of language
  return (
    <div className={compact ? 'field field-inline lang-picker' : 'field'}>
      <label htmlFor={id} className={compact ? 'visually-hidden' : undefined}>
        {t('settings.language')}
      </label>
      <select
        id={id}
        value={currentLanguage()}
        data-testid="language"
        onChange={(e) => setLanguage(e.target.value as Language)}
      >
        {LANGUAGES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LANGUAGE_NAMES[l]}
          </option>
        ))}
      </select>
    </div>
  );
}
