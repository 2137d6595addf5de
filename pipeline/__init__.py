"""callproof: turn phone-call recordings into reviewable evidence."""

__version__ = "0.1.0"
