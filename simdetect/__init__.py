"""simdetect: find AI-generated images that copy or imitate an artist's style."""

__version__ = "0.1.0"
