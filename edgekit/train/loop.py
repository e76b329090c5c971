"""The one training loop for every landmark and pose model.

AdamW + per-step lr schedule, validation every epoch with the task metric through the same numpy decode and
metrics as ``edgekit eval`` (NME % or pose MAE), ``best.safetensors`` / ``best.pt`` by that metric, ``last.pt``
every epoch (atomic), ``log.csv``, TensorBoard when installed, AMP on CUDA, DDP under ``torchrun``.
A resumed run reproduces an uninterrupted one bit for bit on CPU: data order and augmentation depend only on
(seed, epoch, index) and every RNG state travels in the checkpoint."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from edgekit import serial
from edgekit.atomic import atomic_write_text
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.train import checkpoint as ckpt
from edgekit.train.dataset import FaceDataset, build_datasets
from edgekit.train.distributed import DistEnv, all_reduce_sum, barrier, setup_distributed, teardown_distributed
from edgekit.train.runlog import RunLog
from edgekit.train.recipe import OptimConfig, Recipe, resolve_path
from edgekit.train.rng import restore_rng_state, rng_state, seed_everything


@dataclass
class RunState:
    """Progress saved in every checkpoint."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_metric: float = math.inf  # lower is better (NME % or MAE degrees)
    best_epoch: int = 0


class TrainStep(nn.Module):
    """forward_train + loss as one module, so DDP's forward hooks see the training forward."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        return self.model.loss(self.model.forward_train(batch["image"]), batch)


def train(recipe: Recipe, resume: bool = False, threads: int | None = None, progress: bool = True) -> dict:
    """Train per ``recipe`` into ``recipe.out_dir``; returns {metric, best, best_epoch, epochs, out, rank}
    (best and best_epoch are meaningful on rank 0 only: the other DDP ranks do not validate)."""
    if threads:
        torch.set_num_threads(threads)
    env = setup_distributed()
    try:
        return _train(recipe, resume, env, progress)
    finally:
        teardown_distributed(env)


def _train(recipe: Recipe, resume: bool, env: DistEnv, progress: bool) -> dict:
    seed_everything(recipe.seed)
    model = ckpt.build_model(recipe.model, model_args(recipe)).to(env.device)
    attach_teacher(model, recipe, env)
    train_set, val_set = build_datasets(recipe, model.spec)
    sampler = DistributedSampler(train_set, num_replicas=env.world_size, rank=env.rank, shuffle=True,
                                 seed=recipe.seed, drop_last=env.distributed)
    loader = DataLoader(train_set, batch_size=recipe.optim.batch_size, sampler=sampler,
                        num_workers=recipe.num_workers, drop_last=len(sampler) > recipe.optim.batch_size,
                        pin_memory=env.device != "cpu")  # workers re-read the epoch each pass
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.optim.lr,
                                  weight_decay=recipe.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe.optim, len(loader)))
    scaler = torch.amp.GradScaler("cuda", enabled=recipe.amp and env.device.startswith("cuda"))
    out = recipe.out_dir
    if env.is_main:
        remove_interrupted_writes(out)
    state = RunState()
    if resume:
        state = restore(out / "last.pt", model, optimizer, scheduler, scaler)
    step_module = TrainStep(model)
    if env.distributed:
        step_module = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[env.local_rank] if env.device.startswith("cuda") else None)
    log = RunLog(out, keep_epochs=state.epoch) if env.is_main else None
    if env.is_main:
        atomic_write_text(out / "recipe.yaml", serial.dump_yaml(recipe))  # what this run trained with
    metric = metric_key(model.spec)
    for epoch in range(state.epoch, recipe.optim.epochs):
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        started = time.perf_counter()
        losses, images_per_s = train_one_epoch(step_module, loader, optimizer, scheduler, scaler, recipe, env,
                                               f"epoch {epoch + 1}/{recipe.optim.epochs}", progress)
        state.step += len(loader)
        state.epoch = epoch + 1
        if env.is_main:
            value = validate(model, val_set, recipe.optim.batch_size, env.device)[metric]
            improved = value < state.best_metric
            if improved:
                state.best_metric, state.best_epoch = value, state.epoch
            saved = checkpoint_state(model, optimizer, scheduler, scaler, state, recipe)
            if improved:
                ckpt.save_weights(model, out / "best.safetensors")
                ckpt.save_checkpoint(out / "best.pt", saved)
            ckpt.save_checkpoint(out / "last.pt", saved)
            log.add(epoch=state.epoch, **losses, **{f"val_{metric}": value}, lr=scheduler.get_last_lr()[0],
                    images_per_s=images_per_s, seconds=time.perf_counter() - started)
        barrier(env)
    if log is not None:
        log.close()
    return {"metric": metric, "best": state.best_metric, "best_epoch": state.best_epoch, "epochs": state.epoch,
            "out": str(out), "rank": env.rank}


def train_one_epoch(step_module: nn.Module, loader: DataLoader, optimizer, scheduler, scaler, recipe: Recipe,
                    env: DistEnv, label: str, progress: bool) -> tuple[dict[str, float], float]:
    """One pass over ``loader``; returns (mean loss parts over all ranks, images/s over all ranks)."""
    from tqdm import tqdm

    step_module.train()
    sums: dict[str, float] = {}
    images, started = 0, time.perf_counter()
    bar = tqdm(loader, desc=label, leave=False, dynamic_ncols=True, disable=not (progress and env.is_main))
    for index, batch in enumerate(bar):
        batch = {key: value.to(env.device, non_blocking=True) for key, value in batch.items()}
        with torch.autocast("cuda", dtype=torch.float16, enabled=scaler.is_enabled()):
            loss, parts = step_module(batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if recipe.optim.grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(step_module.parameters(), recipe.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        count = len(batch["image"])
        images += count
        loss_value = float(loss.detach())
        for key, value in {**parts, "loss": loss_value}.items():
            sums[key] = sums.get(key, 0.0) + float(value) * count
        if index % max(recipe.log_every, 1) == 0:
            bar.set_postfix(loss=f"{loss_value:.4f}", img_s=f"{images / (time.perf_counter() - started):.0f}")
    totals = all_reduce_sum([*sums.values(), float(images), time.perf_counter() - started], env)
    images_total, seconds = totals[-2], totals[-1] / env.world_size
    means = {key: total / max(images_total, 1.0) for key, total in zip(sums, totals)}
    return means, images_total / max(seconds, 1e-9)


def validate(model: nn.Module, dataset: FaceDataset, batch_size: int, device: str = "cpu") -> dict:
    """The task summary (edgekit.eval.evaluate.summarize) of ``model`` on ``dataset``, decoded in numpy."""
    from edgekit.eval.evaluate import summarize
    from edgekit.runtime.decode import decode

    spec = model.spec
    target = "landmarks" if spec.task == "landmarks" else "pose"
    predictions, truths = [], []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            outputs = model(batch["image"].to(device))
            arrays = [output.float().cpu().numpy() for output in outputs]
            predictions.append(decode(arrays, spec.head, spec.preprocess.input_size))
            truths.append(batch[target].numpy())
    model.train(was_training)
    return summarize(spec, np.concatenate(predictions), np.concatenate(truths))


def metric_key(spec) -> str:
    return "nme" if spec.task == "landmarks" else "mae"


def lr_factor(optim: OptimConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """lr multiplier per optimizer step: linear warm-up, then cosine to 0 or steps of ``gamma`` at milestones."""
    warmup = optim.warmup_epochs * steps_per_epoch
    total = optim.epochs * steps_per_epoch
    milestones = [m * steps_per_epoch for m in optim.milestones]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if optim.schedule == "step":
            return optim.gamma ** sum(step >= m for m in milestones)
        progress = (step - warmup) / max(total - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def attach_teacher(model: nn.Module, recipe: Recipe, env: DistEnv) -> None:
    """Distillation: load the frozen teacher and hand it to the student (MobileFAN's ``set_teacher``)."""
    if recipe.distill is None:
        return
    if not hasattr(model, "set_teacher"):
        raise EdgekitError(f"recipe has a 'distill' section but model {recipe.model} takes no teacher")
    source = recipe.distill.teacher
    if Path(source).suffix in (".safetensors", *ckpt.CHECKPOINT_SUFFIXES):
        source = resolve_path(source)  # like data paths: the working directory, else the checkout
    teacher = ckpt.load_model(source).to(env.device).requires_grad_(False)
    try:
        model.set_teacher(teacher)
    except (ValueError, AttributeError, TypeError) as exc:  # a teacher of another architecture
        name = ckpt.model_identity(teacher)[0]
        raise ModelFileError(f"teacher weights are for model {name}, which cannot teach {recipe.model} "
                             f"({type(exc).__name__}: {exc})", source) from None


def model_args(recipe: Recipe) -> dict:
    """Builder args: the recipe's, plus the distillation loss weights when it distils."""
    args = dict(recipe.model_args)
    if recipe.distill is not None:
        args.update(kd_pixel=recipe.distill.kd_pixel, kd_pair=recipe.distill.kd_pair)
    return args


def checkpoint_state(model, optimizer, scheduler, scaler, state: RunState, recipe: Recipe) -> dict:
    name, args = ckpt.model_identity(model)
    return {
        "model_name": name,
        "model_args": args,
        "spec": model.spec.to_dict(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "epoch": state.epoch,
        "step": state.step,
        "best_metric": state.best_metric,
        "best_epoch": state.best_epoch,
        "rng": rng_state(),
        "recipe": recipe.to_dict(),
    }


def restore(path: Path, model, optimizer, scheduler, scaler) -> RunState:
    """Load ``last.pt`` into the live objects; a checkpoint of another model is a ModelFileError."""
    if not path.is_file():
        raise EdgekitError("nothing to resume: no last.pt in the run folder (drop --resume to start)", path.parent)
    state = ckpt.load_checkpoint(path)
    expected = ckpt.model_identity(model)[0]
    if state["model_name"] != expected:
        raise ModelFileError(f"weights are for model {state['model_name']}, not {expected}", path)
    ckpt.load_state(model, state["model"], path, state["model_name"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:  # empty when saved without AMP (CPU)
        scaler.load_state_dict(state["scaler"])
    restore_rng_state(state["rng"])
    return RunState(epoch=state["epoch"], step=state["step"], best_metric=state["best_metric"],
                    best_epoch=state["best_epoch"])


def remove_interrupted_writes(folder: Path) -> None:
    """Temporary files of atomic writes that a killed run left behind (``.NAME.XXXX.tmp``); the files they were
    about to replace are intact."""
    for leftover in folder.glob(".*.tmp") if folder.is_dir() else ():
        leftover.unlink(missing_ok=True)
