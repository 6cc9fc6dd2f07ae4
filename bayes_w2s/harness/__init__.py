"""Run plumbing: run folders, sweeps, executors, the command line, figure style."""
