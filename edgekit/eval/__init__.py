"""Evaluation of models, checkpoints and exported files on annotated folders, through the runtime Predictor."""
