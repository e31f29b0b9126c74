__version__ = "0.1.0"

from .model import Model, available_pretrained, load_pretrained
from .ranking import Ranking, rank_group
from .generate import edit, generate_like, similarity_path
