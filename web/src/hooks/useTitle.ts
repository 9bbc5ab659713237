import { useEffect } from 'react';

/** Keeps the tab's title: the page, and its state at a glance ("● Live · …", "Reconnecting · …"). */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title;
  }, [title]);
}
