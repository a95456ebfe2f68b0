"""The reset and send flows, free of any web framework, database or transport library."""
