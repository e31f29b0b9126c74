__version__ = "0.1.0"

from .pretrained import load_pretrained, available_pretrained
from .ranking import rank_group
from .generate import generate_like, edit, similarity_path
