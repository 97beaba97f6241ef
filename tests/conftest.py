"""Shared test settings."""

from hypothesis import settings

# The first PyTorch measurement imports torch (seconds); don't let hypothesis call that a flake.
settings.register_profile("sepconv", deadline=None, max_examples=60)
settings.load_profile("sepconv")
