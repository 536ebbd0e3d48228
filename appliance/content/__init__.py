"""The content component."""
