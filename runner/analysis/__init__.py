"""Reading many runs back: comparison tables, pictures and the HTML report."""
