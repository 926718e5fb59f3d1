"""The review queue: claim the next item with a lease, answer it, or release it."""
