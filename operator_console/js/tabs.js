// A row of tabs (role="tablist") used from the keyboard as the WAI-ARIA
// tabs pattern says: one tab in the Tab order (the selected one), the arrow
// keys, Home and End move between tabs and select the one reached.

const KEYS = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };

// ``select(tab)`` selects the tab and shows its panel, then calls markSelected.
export function keyboardTabs(tablist, select) {
  const tabs = () => [...tablist.querySelectorAll('[role="tab"]')];
  tablist.addEventListener("keydown", (event) => {
    const all = tabs();
    const at = all.indexOf(event.target);
    if (at < 0) return;
    let next;
    if (event.key in KEYS) next = all[(at + KEYS[event.key] + all.length) % all.length];
    else if (event.key === "Home") next = all[0];
    else if (event.key === "End") next = all.at(-1);
    else return;
    event.preventDefault();
    next.focus();
    select(next);
  });
  markSelected(tablist);
}

// After a tab's aria-selected changed: only the selected tab is reached with Tab.
export function markSelected(tablist) {
  for (const tab of tablist.querySelectorAll('[role="tab"]')) {
    tab.tabIndex = tab.getAttribute("aria-selected") === "true" ? 0 : -1;
  }
}
