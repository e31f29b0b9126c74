__version__ = "0.1.0"

from .pretrained import load_pretrained, available_pretrained
