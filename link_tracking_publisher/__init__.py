"""link_tracking: the control plane of the short-link platform, as a reusable Django app."""

from link_tracking_runtime import __version__

__all__ = ["__version__"]
