"""bindscape: predict where transcription factors bind DNA.

Importing the package is cheap: heavy pieces (torch, numba, pyjaspar, matplotlib) are imported lazily by
the functions that need them.
"""

__version__ = "0.1.0"

from bindscape.errors import BindscapeError  # noqa: E402

__all__ = ["BindscapeError", "__version__"]
