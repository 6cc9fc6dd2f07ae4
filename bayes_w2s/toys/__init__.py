"""Toy classification worlds and the weak-to-strong pipeline on them (numpy only)."""
