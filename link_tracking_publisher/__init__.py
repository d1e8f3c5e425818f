"""link_tracking: the control plane of the short-link platform, as a reusable Django app."""
