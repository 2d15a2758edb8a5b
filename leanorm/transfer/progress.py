"""A progress bar per class (tqdm: one small dependency-free package; rich, measured too, brings
Pygments and markdown-it along, ~2 MB for the same bar)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator

from tqdm import tqdm

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Any]:
    """A bar counting objects on stderr, or a do-nothing one when ``enabled`` is false."""
    bar = tqdm(desc=label, unit=" objects", file=sys.stderr, disable=not enabled, leave=True,
               dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
