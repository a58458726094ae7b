"""slant's inference core: load a model directory, predict stance toward actors in texts."""

from .actors import Actor, ActorRegistry, default_registry, parse_actors
from .errors import InputTooLargeError, InvalidInputError, ModelLoadError, SlantError
from .loading import ModelMeta, load_classifier, resolve_pretrained
from .predictor import StancePredictor, default_model_path
from .types import ActorStance, Analysis, Bias, Evidence, FlaggedSentence, Leaning, LoadedLanguage

__all__ = [
    "Actor",
    "ActorRegistry",
    "ActorStance",
    "Analysis",
    "Bias",
    "Evidence",
    "FlaggedSentence",
    "InputTooLargeError",
    "InvalidInputError",
    "Leaning",
    "LoadedLanguage",
    "ModelLoadError",
    "ModelMeta",
    "SlantError",
    "StancePredictor",
    "default_model_path",
    "default_registry",
    "load_classifier",
    "parse_actors",
    "resolve_pretrained",
]
