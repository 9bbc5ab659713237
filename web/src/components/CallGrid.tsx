import type { CSSProperties } from 'react';
import { useTranslation } from 'react-i18next';
import { gridShape, type Tile } from '../lib/participants';
import { Filmstrip } from './Filmstrip';
import { Icon } from './icons';
import { VideoTile } from './VideoTile';

export interface SelfMedia {
  audio: boolean;
  video: boolean;
}

/**
 * The call's tiles: a grid that picks its columns by the number of people,
 * or, while someone shares a screen, the screen large beside a strip of people.
 * The presenter does not see their own screen (a hall of mirrors): a banner
 * with Stop presenting takes its place.
 */
export function CallGrid({
  cameras,
  screens,
  speaker,
  self,
  narrow,
  onStopPresenting,
}: {
  cameras: Tile[];
  screens: Tile[];
  speaker: string;
  self: SelfMedia;
  narrow: boolean;
  onStopPresenting: () => void;
}) {
  const { t } = useTranslation();
  const tile = (t: Tile) => (
    <VideoTile
      key={t.key}
      tile={t}
      speaking={speaker !== '' && speaker === t.participant.id}
      videoOn={t.self ? self.video : t.participant.video}
      audioOn={t.self ? self.audio : t.participant.audio}
    />
  );

  if (screens.length > 0) {
    const presenting = screens.some((s) => s.self);
    const shown = screens.filter((s) => !s.self);
    const panes = shown.length + (presenting ? 1 : 0);
    return (
      <div className="call-present">
        <div className="present-main" style={{ '--cols': panes > 1 && !narrow ? 2 : 1 } as CSSProperties}>
          {presenting && (
            <section className="presenting" data-testid="presenting" aria-labelledby="presenting-title">
              <Icon name="screen" />
              <h2 id="presenting-title">{t('call.presentingTitle')}</h2>
              <p>{t('call.presentingText')}</p>
              <button type="button" className="btn btn-primary" onClick={onStopPresenting}>
                <Icon name="screenOff" />
                {t('controls.stopPresenting')}
              </button>
            </section>
          )}
          {shown.map(tile)}
        </div>
        <Filmstrip horizontal={narrow} items={cameras.map((c) => ({ key: c.key, node: tile(c) }))} />
      </div>
    );
  }

  const { cols, rows } = gridShape(cameras.length, narrow);
  const odd = narrow && cols === 2 && cameras.length % 2 === 1;
  return (
    <div
      className={`tile-grid ${odd ? 'is-odd' : ''}`}
      data-testid="grid"
      data-cols={cols}
      style={{ '--cols': cols, '--rows': rows } as CSSProperties}
    >
      {cameras.map(tile)}
    </div>
  );
}
