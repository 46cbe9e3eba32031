"""Training: one ``CifarVGG`` variant on CIFAR-10 to a checkpoint, ``python -m shiftlab.train``.

Every variant gets the same fast recipe, airbench94's (Jordan, 2024, MIT) adapted to this model
(``recipe``): label smoothing, Nesterov SGD with a triangular learning-rate schedule and lookahead
(``optim``), a whitened frozen stem and identity-initialised convolutions (``build``), alternating
flips and random translations (``augment``). ``trainer`` runs and resumes epochs; ``evaluation``
measures the stored (float16) weights with ``shiftlab.metrics``; ``run`` goes from data to a checkpoint
with a complete manifest entry; ``__main__`` is the command line. Nothing in the core imports this.
"""

from .recipe import Recipe
from .run import train_checkpoint

__all__ = ["Recipe", "train_checkpoint"]
