import { useTranslation } from 'react-i18next';
import { useEffect, useRef, useState } from 'react';
import type { Participant, Role } from '../lib/protocol';
import { displayName, initials } from '../lib/participants';
import { avatarStyle } from './avatar';
import { Icon, type IconName } from './icons';

/**
 * Everyone in a room, stage first, with their microphone and camera. The
 * host gets a button per person to move them between audience and stage.
 */
export function PeopleList({
  participants,
  selfId,
  amHost,
  sendBackWords,
  hiddenAudience = 0,
  onRole,
}: {
  participants: readonly Participant[];
  selfId: string | null;
  amHost: boolean;
  /** The words of the button that moves someone off the stage. */
  sendBackWords: 'moveToAudience' | 'sendBack';
  /** Audience members meetd counts but does not list to us. */
  hiddenAudience?: number;
  onRole: (id: string, role: Role) => void;
}) {
  const { t } = useTranslation();
  const stage = participants.filter((p) => p.role === 'stage');
  const audience = participants.filter((p) => p.role === 'audience');
  const audienceCount = Math.max(audience.length, hiddenAudience);

  const action = (p: Participant) =>
    t(`people.${p.role === 'stage' ? sendBackWords : p.invited ? 'withdraw' : 'invite'}`);

  const row = (p: Participant) => {
    const self = p.id === selfId;
    const name = displayName(p);
    return (
      <li key={p.id} className="person" data-testid="person" data-participant={p.id}>
        <span className="avatar avatar-sm" aria-hidden="true" style={avatarStyle(p.id)}>
          {initials(name)}
        </span>
        <span className="person-name">
          <span className="person-title">
            {name}
            {self && ` ${t('people.youSuffix')}`}
          </span>
          {p.host && <span className="person-tag">{t('people.host')}</span>}
          {p.invited && <span className="person-tag">{t('people.invited')}</span>}
        </span>
        {p.role === 'stage' && (
          <span className="person-media">
            <span title={p.audio ? t('people.micOn') : t('people.micOff')} className={p.audio ? '' : 'is-off'}>
              <Icon name={p.audio ? 'mic' : 'micOff'} />
              <span className="visually-hidden">{p.audio ? t('people.micOn') : t('people.micOff')}</span>
            </span>
            <span title={p.video ? t('people.camOn') : t('people.camOff')} className={p.video ? '' : 'is-off'}>
              <Icon name={p.video ? 'cam' : 'camOff'} />
              <span className="visually-hidden">{p.video ? t('people.camOn') : t('people.camOff')}</span>
            </span>
            {p.screen && (
              <span title={t('people.presenting')}>
                <Icon name="screen" />
                <span className="visually-hidden">{t('people.presenting')}</span>
              </span>
            )}
          </span>
        )}
        {amHost && !self && (
          <PersonMenu
            name={name}
            action={action(p)}
            icon={p.role === 'stage' || p.invited ? 'personRemove' : 'personAdd'}
            onAction={() => onRole(p.id, p.role === 'stage' || p.invited ? 'audience' : 'stage')}
          />
        )}
      </li>
    );
  };

  return (
    <div className="people">
      <h3 className="people-group">{t('people.onStage', { count: stage.length })}</h3>
      <ul className="people-list">{stage.map(row)}</ul>
      <h3 className="people-group">{t('people.audience', { count: audienceCount })}</h3>
      {audience.length > 0 ? (
        <ul className="people-list">{audience.map(row)}</ul>
      ) : (
        <p className="people-empty">{audienceCount > 0 ? t('people.unnamedAudience') : t('people.noAudience')}</p>
      )}
    </div>
  );
}

/** The host's actions on one person, behind a "⋮" button, so the list stays one line per person. */
function PersonMenu({
  name,
  action,
  icon,
  onAction,
}: {
  name: string;
  action: string;
  icon: IconName;
  onAction: () => void;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const wrap = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const first = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    first.current?.focus();
    const away = (e: PointerEvent) => {
      if (!wrap.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [open]);

  return (
    <div
      className="person-menu"
      ref={wrap}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && open) {
          e.stopPropagation(); // close the menu, not the panel around it
          setOpen(false);
          button.current?.focus();
        }
      }}
    >
      <button
        ref={button}
        type="button"
        className="icon-btn"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={t('people.actionsFor', { name })}
        title={t('people.actions')}
        onClick={() => setOpen(!open)}
      >
        <Icon name="more" />
      </button>
      {open && (
        <div className="menu" role="menu" aria-label={t('people.actionsFor', { name })}>
          <button
            ref={first}
            type="button"
            role="menuitem"
            onClick={() => {
              setOpen(false);
              onAction();
            }}
          >
            <Icon name={icon} />
            {action}
          </button>
        </div>
      )}
    </div>
  );
}
