"""One folder per backend, same file names in each: ``runner.py`` (open / infer / close) and, where the
backend builds its own file, ``loader.py``. Heavy imports stay inside the functions."""
