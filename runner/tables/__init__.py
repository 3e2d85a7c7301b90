"""A user's CSV file as a run's data: the config checked (``csv_data``), the file read once per
sweep (``cache``), its columns encoded from the training rows (``encoding``, and
``float_splits`` for all-numeric files in one pass), and that encoding saved for predictions."""
