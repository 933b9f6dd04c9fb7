"""The 7 emotions, in the order of the competition's columns (everywhere in the kit), importable without pandas."""

LABELS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
