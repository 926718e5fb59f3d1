"""Processes: one narrow back-office task each, with its policy, costs, owner and stage."""
