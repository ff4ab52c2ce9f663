"""Sweeps: hyperparameter search over W&B-style sweep configs. `strategies/` holds the
pure suggestion engines (no Django imports), so they also run outside the web app."""
