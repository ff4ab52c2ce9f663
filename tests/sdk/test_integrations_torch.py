"""torch-based W&B integrations against the real libraries (CPU) and a live server:
`wandb.watch` / `unwatch`, torch tensors in `log()`, PyTorch Lightning's own
`WandbLogger` and Hugging Face Trainer's `report_to="wandb"`, each run through the
`wandb` -> gradline alias with a tiny model built here. Skipped where torch (or
Lightning, or transformers) is not installed (`make test` installs them when the CPU
torch wheel is on the machine, see the Makefile)."""

from __future__ import annotations

import pytest

from gradline import Api, wandb_alias

torch = pytest.importorskip("torch")


@pytest.fixture
def wandb():
    return wandb_alias.install()


def remote_run(server, sdk_db, run):
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url).run(
        f"{sdk_db.seed.team}/{run.project}/{run.id}"
    )


def tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def train(model, steps, wandb, log_every=1):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(32, 4)
    y = x[:, :1] * 2.0
    for step in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0:
            wandb.log({"loss": loss, "lr": torch.tensor([0.05])})  # tensors, as W&B takes them


PARAMS = ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_watch_logs_gradient_and_parameter_histograms_every_log_freq(
    server, sdk_db, sdk_settings, wandb
):
    run = wandb.init(project="torch", settings=sdk_settings())
    model = tiny_model()
    wandb.watch(model, log="all", log_freq=3)
    train(model, 9, wandb)
    wandb.unwatch(model)
    train(model, 3, wandb)  # after unwatch: nothing more
    run.finish()

    remote = remote_run(server, sdk_db, run)
    rows = remote.history(pandas=False)
    assert [r["_step"] for r in rows if "loss" in r] == list(range(12))
    assert all(isinstance(r["loss"], float) for r in rows if "loss" in r)
    assert [r["lr"] for r in rows if "lr" in r] == pytest.approx([0.05] * 12)
    keys = {m["key"] for m in remote.media_keys()}
    assert keys == {f"gradients/{p}" for p in PARAMS} | {f"parameters/{p}" for p in PARAMS}
    grads = remote.logged_media(key="gradients/0.weight")
    assert [m.type for m in grads] == ["histogram"] * 3
    assert [m.step for m in grads] == [2, 5, 8]  # the 3rd, 6th and 9th batch
    params = remote.logged_media(key="parameters/2.bias")
    assert [m.step for m in params] == [2, 5, 8]
    hist = grads[0].metadata  # 64 bins over the 8x4 gradient of the first layer
    assert len(hist["bins"]) == 65 and sum(hist["values"]) == 32
    assert not model[0].weight._backward_hooks  # hooks removed


def test_watch_gradients_only_and_two_models_get_graph_prefixes(
    server, sdk_db, sdk_settings, wandb
):
    run = wandb.init(project="torch", settings=sdk_settings())
    first, second = tiny_model(), tiny_model()
    wandb.watch([first, second], log_freq=2, log_graph=True)  # log="gradients" by default
    train(first, 2, wandb)
    train(second, 2, wandb)
    with pytest.raises(ValueError, match="log must be one of"):
        wandb.watch(first, log="weights")
    run.finish()  # finish removes the hooks
    assert all(not p._backward_hooks for p in first.parameters())

    remote = remote_run(server, sdk_db, run)
    keys = {m["key"] for m in remote.media_keys()}
    assert keys == {f"gradients/{p}" for p in PARAMS} | {f"gradients/graph_1{p}" for p in PARAMS}
    assert remote.summary["graph_0"]["modules"][0] == {"name": "0", "class": "Linear"}


def test_lightning_wandb_logger(server, sdk_db, sdk_settings, wandb, tmp_path, monkeypatch):
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.chdir(tmp_path)
    settings = sdk_settings()
    monkeypatch.setenv("GRADLINE_BASE_URL", settings["base_url"])
    monkeypatch.setenv("GRADLINE_API_KEY", settings["api_key"])
    monkeypatch.setenv("GRADLINE_ENTITY", settings["entity"])
    monkeypatch.setenv("GRADLINE_DIR", settings["dir"])
    monkeypatch.setenv("GRADLINE_SILENT", "true")

    class Tiny(pl.LightningModule):
        def __init__(self, lr=0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = tiny_model()

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    x = torch.randn(64, 4)
    data = torch.utils.data.TensorDataset(x, x[:, :1] * 2)
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    logger = WandbLogger(project="torch-lightning", log_model=False)
    trainer = pl.Trainer(
        max_epochs=2,
        logger=logger,
        log_every_n_steps=2,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=str(tmp_path),
    )
    module = Tiny()
    logger.watch(module.net, log="all", log_freq=4)  # W&B's watch, through the logger
    trainer.fit(module, loader, loader)
    run_id = logger.experiment.id
    wandb.finish()

    remote = Api(api_key=settings["api_key"], base_url=settings["base_url"]).run(
        f"{settings['entity']}/torch-lightning/{run_id}"
    )
    assert remote.config["lr"] == 0.05
    rows = remote.history(pandas=False)
    train_rows = [r for r in rows if "train_loss" in r]
    assert len(train_rows) == 8  # 16 batches, every 2nd
    assert all("trainer/global_step" in r and "epoch" in r for r in train_rows)
    assert len([r for r in rows if "val_loss" in r]) == 2
    keys = {m["key"] for m in remote.media_keys()}
    assert {"gradients/0.weight", "parameters/2.bias"} <= keys


def test_hugging_face_trainer_report_to_wandb(
    server, sdk_db, sdk_settings, wandb, tmp_path, monkeypatch
):
    transformers = pytest.importorskip("transformers")
    monkeypatch.chdir(tmp_path)
    settings = sdk_settings()
    for key, value in {
        "GRADLINE_BASE_URL": settings["base_url"],
        "GRADLINE_API_KEY": settings["api_key"],
        "GRADLINE_ENTITY": settings["entity"],
        "GRADLINE_DIR": settings["dir"],
        "GRADLINE_SILENT": "true",
        "WANDB_PROJECT": "torch-hf",
    }.items():
        monkeypatch.setenv(key, value)

    config = transformers.BertConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = transformers.BertForSequenceClassification(config)  # built here, no download
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 32, (32, 8), generator=g)
    labels = (ids[:, 0] > 15).long()

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return len(ids)

        def __getitem__(self, i):
            return {"input_ids": ids[i], "labels": labels[i]}

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        report_to="wandb",
        run_name="tiny-bert",
        num_train_epochs=2,
        per_device_train_batch_size=8,
        logging_steps=2,
        eval_strategy="epoch",
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Data(), eval_dataset=Data()
    )
    trainer.train()
    import gradline

    run = gradline.run
    run_id = run.id
    wandb.finish()

    remote = Api(api_key=settings["api_key"], base_url=settings["base_url"]).run(
        f"{settings['entity']}/torch-hf/{run_id}"
    )
    assert remote.name == "tiny-bert"
    assert remote.config["num_train_epochs"] == 2 and remote.config["hidden_size"] == 16
    rows = remote.history(pandas=False)
    train_rows = [r for r in rows if "train/loss" in r]
    assert [r["train/global_step"] for r in train_rows] == [2, 4, 6, 8]
    assert len([r for r in rows if "eval/loss" in r]) == 2
    assert "train_runtime" in remote.summary or "train/train_runtime" in remote.summary


def test_torch_tensors_in_log_and_summary(server, sdk_db, sdk_settings, wandb):
    run = wandb.init(project="torch", settings=sdk_settings())
    wandb.log({"scalar": torch.tensor(1.5), "one": torch.tensor([[2]]), "many": torch.arange(10.0)})
    run.summary["best"] = torch.tensor(0.25)
    run.finish()
    remote = remote_run(server, sdk_db, run)
    (row,) = remote.history(pandas=False)
    assert row["scalar"] == 1.5 and row["one"] == 2
    assert remote.summary["best"] == 0.25
    assert [m.type for m in remote.logged_media(key="many")] == ["histogram"]


def test_wandb_internals_and_metadata_seen_by_integrations(wandb):
    """What Lightning and transformers check before they use W&B, answered by the alias."""
    import importlib.metadata

    from wandb.sdk.lib import RunDisabled
    from wandb.sdk.lib.config_util import ConfigError
    from wandb.wandb_run import Run

    import gradline

    assert Run is gradline.Run and RunDisabled is gradline.Run
    assert ConfigError is gradline.ConfigError
    assert importlib.metadata.version("wandb") == wandb_alias.WANDB_VERSION
    with pytest.raises(ImportError):
        import wandb.sdk.lib.nothing_here
    wandb.require("service")  # a feature switch: nothing to do
