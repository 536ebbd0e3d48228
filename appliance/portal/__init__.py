"""The portal component."""
