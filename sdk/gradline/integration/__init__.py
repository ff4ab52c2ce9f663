"""W&B's framework integrations under their W&B module paths (`wandb.integration.<name>`).

Each subpackage imports its framework only when one of its names is used, so
`import gradline.integration.xgboost` works where xgboost is not installed.
"""
