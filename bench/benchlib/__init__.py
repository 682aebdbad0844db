"""bench/run's pieces (see bench/run for what it measures and how)."""
