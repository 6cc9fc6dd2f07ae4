"""Exact mathematics: hypothesis spaces, update rules, schedules, metrics, the trajectory engine (numpy/scipy only)."""
