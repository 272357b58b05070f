"""An outside checker of the several-interval core (issue 12): random problems, an
independent scipy (HiGHS) reference and every rule of the issue read from the result JSON."""
