"""Synthetic deliveries of the three blinatumomab studies (see data/README.md)."""
