// Network changes of the device: back online, or a different connection
// (Wi-Fi to mobile data). A media connection's old path may be gone then,
// so the session restarts ICE rather than wait for it to fail.

/** Calls onChange whenever the network changes; returns a function that stops listening. */
export function watchNetwork(onChange: () => void): () => void {
  if (typeof window === 'undefined') return () => {};
  // The Network Information API is not everywhere (Chromium has it).
  const connection = (navigator as Navigator & { connection?: EventTarget }).connection;
  window.addEventListener('online', onChange);
  connection?.addEventListener?.('change', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    connection?.removeEventListener?.('change', onChange);
  };
}
