"""Phase 2 and 3: SiMPL meta-training on a task set and adaptation to a target task."""
