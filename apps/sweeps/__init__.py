"""Sweeps: hyperparameter search over W&B-style sweep configs. The pure suggestion
engines (no Django imports) live in the SDK, `gradline.sweep_engines`, so the offline
agent (`gradline agent --local`) and the HPO harness run the same code."""
