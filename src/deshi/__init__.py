"""deshi (弟子): learning AI agents for back-office work, with a provable error budget."""

__version__ = "0.1.0"
