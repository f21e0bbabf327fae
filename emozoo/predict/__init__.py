"""``python -m emozoo.predict --model NAME FILE...``: per-file class probabilities from a zoo model."""
