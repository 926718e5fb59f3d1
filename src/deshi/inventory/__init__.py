"""The process inventory: candidate processes per department, ranked, each with a 90-day plan."""
