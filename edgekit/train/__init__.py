"""Training: recipes (recipe.py), sample selection shared with eval (samples.py, no torch), the dataset
(dataset.py), the one loop (loop.py), checkpoints and weights (checkpoint.py). Importing this package does not
import torch; the modules that need it do."""
