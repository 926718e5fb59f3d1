"""Learning: the agent of each process, fed by every review, retrained in the background.

`service` holds the use cases (decide_items, learn_from_review, retrain, rollback);
`registry` caches one agent per process and keeps it in step with the database;
`repo` is the SQL; `rules` evaluates always-human rules; `jobs` runs retrains in the worker.
"""
