"""Phase 1: closed-loop SPiRL skills (skill encoder, closed-loop decoder, skill prior) learned from offline data."""
