"""`klaster serve`, `klaster demo`, `klaster watch`."""
