import { useEffect, useRef } from 'react';

/** "You're invited to the stage": join it (camera and microphone go out) or not now. */
export function InviteDialog({ onAccept, onDecline }: { onAccept: () => void; onDecline: () => void }) {
  const accept = useRef<HTMLButtonElement>(null);
  useEffect(() => accept.current?.focus(), []);
  return (
    <div className="dialog-backdrop">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="invite-title" aria-describedby="invite-text">
        <h2 id="invite-title">You're invited to the stage</h2>
        <p id="invite-text">The host invited you to join the stage. Everyone will see and hear you.</p>
        <div className="dialog-actions">
          <button type="button" className="btn btn-tonal" onClick={onDecline}>
            Not now
          </button>
          <button type="button" ref={accept} className="btn btn-primary" onClick={onAccept}>
            Join stage
          </button>
        </div>
      </div>
    </div>
  );
}
