"""One cycle of the daemon: sync, classify, match, apply events, plan, then act (drafts, sends, user requests)."""
