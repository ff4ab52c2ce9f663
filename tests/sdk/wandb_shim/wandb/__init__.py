# `import wandb` is Gradline: put this folder first on PYTHONPATH (docs/compatibility.md).
import gradline.wandb_alias

gradline.wandb_alias.install()
