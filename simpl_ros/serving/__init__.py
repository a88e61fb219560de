"""Serving the learned policy: skill decoder, skill selector (high-level policy), task encoder, on-robot adaptation."""
