"""Market prices (RCE) as the cluster's data: stored by `klaster import-prices`
(`market.statutory.prices`), read by the statutory counterfactual and the day-ahead problem's
grid prices. A neutral package below `trading`, `clearing` and `statutory`."""
