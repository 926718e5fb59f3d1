"""Items: the units of work of a process, their decisions and their human reviews."""
