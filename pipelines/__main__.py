"""Allow ``python -m pipelines``."""

from pipelines.cli import run

# Guarded: the Dask workers of `vigie run` start by spawning, which imports this module
# again under another name; it must not run the command a second time.
if __name__ == "__main__":
    run()
