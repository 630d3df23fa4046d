"""Open reproduction of Dhuri et al. (2020), pre-emergence magnetic-field patterns with a CNN."""

__version__ = "0.1.0"
