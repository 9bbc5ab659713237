import { useTranslation } from 'react-i18next';
import type { CSSProperties } from 'react';
import { gridShape, type Tile } from '../lib/participants';
import { VideoTile } from './VideoTile';

export interface SelfMedia {
  audio: boolean;
  video: boolean;
}

/**
 * The call's tiles: a grid that picks its columns by the number of people,
 * or, while someone shares a screen, the screen large beside a strip of people.
 */
export function CallGrid({
  cameras,
  screens,
  speaker,
  self,
  narrow,
}: {
  cameras: Tile[];
  screens: Tile[];
  speaker: string;
  self: SelfMedia;
  narrow: boolean;
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
    return (
      <div className="call-present">
        <div className="present-main" style={{ '--cols': screens.length > 1 && !narrow ? 2 : 1 } as CSSProperties}>
          {screens.map(tile)}
        </div>
        <div className="filmstrip" role="list" aria-label={t('call.people')}>
          {cameras.map((t) => (
            <div role="listitem" key={t.key} className="filmstrip-item">
              {tile(t)}
            </div>
          ))}
        </div>
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
