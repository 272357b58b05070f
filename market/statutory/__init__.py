"""What the cluster is worth under Polish law: the rule set (`rules`), fee rates as cluster
parameters (`models`, `rates`), hourly matching (`hourly`), its inputs from the database
(`inputs`) and the statutory report (`report`). See docs/statutory.md."""
