"""The one training loop for every landmark and pose model.

AdamW + per-step lr schedule, validation every epoch with the task metric through the same numpy decode and
metrics as ``edgekit eval`` (NME % or pose MAE), ``best.safetensors`` / ``best.pt`` by that metric, ``last.pt``
every epoch (atomic), ``log.csv``, TensorBoard when installed, AMP on CUDA, DDP under ``torchrun``.
A resumed run reproduces an uninterrupted one bit for bit on CPU: data order and augmentation depend only on
(seed, epoch, index) and every RNG state travels in the checkpoint."""
from __future__ import annotations

import contextlib
import functools
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
from edgekit.errors import EdgekitError, ModelFileError, SpecError
from edgekit.models.load import CHECKPOINT_SUFFIXES, load_checkpoint, load_model, load_state
from edgekit.models.weights import build_model, model_identity, save_weights
from edgekit.recipe import OptimConfig, Recipe, resolve_path
from edgekit.train import checkpoint as ckpt
from edgekit.train.dataset import FaceDataset, build_datasets
from edgekit.train.distributed import DistEnv, all_reduce_sum, average_batchnorm_stats, barrier, gather_to_main, \
    prepare_batchnorm, setup_distributed, teardown_distributed
from edgekit.train.runlog import RunLog
from edgekit.train.rng import restore_rng_state, rng_state, seed_everything, seed_rank


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


def train(recipe: Recipe, resume: bool = False, threads: int | None = None, progress: bool = True,
          overwrite: bool = False, device: str = "auto") -> dict:
    """Train per ``recipe`` into ``recipe.out_dir``; returns {metric, best, best_epoch, epochs, out, rank}
    (best and best_epoch are meaningful on rank 0 only: the other DDP ranks do not validate). An existing run
    there needs ``resume`` (continue it) or ``overwrite`` (start over: its own files go, no other file).
    ``device``: auto / cpu / cuda (mixed precision on CUDA when the recipe's ``amp`` is on)."""
    if threads:
        torch.set_num_threads(threads)
    env = setup_distributed(device)
    try:
        prepare_run_folder(recipe.out_dir, resume, overwrite, env)
        return _train(recipe, resume, env, progress)
    finally:
        teardown_distributed(env)


def prepare_run_folder(out: Path, resume: bool, overwrite: bool, env: DistEnv) -> None:
    """The run-folder policy (``edgekit.outputs.check_run_out``) before any work; rank 0 alone removes a previous
    run's files on ``overwrite`` (and dead processes' temporary files), the other ranks write nothing there."""
    from edgekit.outputs import check_run_out, clear_run

    if not env.is_main:
        return
    check_run_out(out, resume, overwrite)
    if overwrite:
        clear_run(out)


def _train(recipe: Recipe, resume: bool, env: DistEnv, progress: bool) -> dict:
    seed_everything(recipe.seed)
    model = prepare_batchnorm(build_for_training(recipe, env), env)  # SyncBatchNorm under torchrun on CUDA
    if env.distributed:
        seed_rank(recipe.seed, env.rank)  # every rank its own streams, from the same initial weights
    train_set, val_set = build_datasets(recipe, model.spec)
    sampler, loader = make_loader(train_set, recipe, env)
    optimizer, scheduler, scaler = make_optimizer(model, recipe, env, len(loader))
    out = recipe.out_dir
    state = RunState()
    if resume:
        state = restore(out / "last.pt", model, optimizer, scheduler, scaler)
        if env.distributed:
            restore_rank_rng(out / "last.pt", env, recipe.seed, state.epoch)
    step_module = TrainStep(model)
    if env.distributed:  # own BatchNorm buffers per rank: SyncBatchNorm or average_batchnorm_stats equalise them
        step_module = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[env.local_rank] if env.device.startswith("cuda") else None,
            broadcast_buffers=False)
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
        average_batchnorm_stats(model, env)  # CPU under torchrun (no SyncBatchNorm there): the mean over ranks
        value = validate(model, val_set, recipe.optim.batch_size, env.device)[metric] if env.is_main else math.nan
        rank_rngs = gather_to_main(rng_state(), env)  # after validation, which draws a loader seed on rank 0
        if env.is_main:
            improved = value < state.best_metric
            if improved:
                state.best_metric, state.best_epoch = value, state.epoch
            saved = checkpoint_state(model, optimizer, scheduler, scaler, state, recipe, rank_rngs)
            if improved:
                save_weights(model, out / "best.safetensors")
                ckpt.save_checkpoint(out / "best.pt", saved)
            ckpt.save_checkpoint(out / "last.pt", saved)
            log.add(epoch=state.epoch, **losses, **{f"val_{metric}": value}, lr=scheduler.get_last_lr()[0],
                    images_per_s=images_per_s, seconds=time.perf_counter() - started)
        barrier(env)
    if log is not None:
        log.close()
    return {"metric": metric, "best": state.best_metric, "best_epoch": state.best_epoch, "epochs": state.epoch,
            "out": str(out), "rank": env.rank}


def make_loader(train_set: FaceDataset, recipe: Recipe, env: DistEnv) -> tuple[DistributedSampler, DataLoader]:
    """The training sampler (this rank's share, reshuffled per epoch by ``set_epoch``) and its loader."""
    sampler = DistributedSampler(train_set, num_replicas=env.world_size, rank=env.rank, shuffle=True,
                                 seed=recipe.seed, drop_last=env.distributed)
    loader = DataLoader(train_set, batch_size=recipe.optim.batch_size, sampler=sampler,
                        num_workers=recipe.num_workers, drop_last=len(sampler) > recipe.optim.batch_size,
                        pin_memory=env.device != "cpu")  # workers re-read the epoch each pass
    return sampler, loader


def make_optimizer(model: nn.Module, recipe: Recipe, env: DistEnv, steps_per_epoch: int):
    """(AdamW over the trainable parameters, its per-step lr schedule, the AMP grad scaler: on only on CUDA)."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.optim.lr,
                                  weight_decay=recipe.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe.optim, steps_per_epoch))
    scaler = torch.amp.GradScaler("cuda", enabled=recipe.amp and env.device.startswith("cuda"))
    return optimizer, scheduler, scaler


def train_one_epoch(step_module: nn.Module, loader: DataLoader, optimizer, scheduler, scaler, recipe: Recipe,
                    env: DistEnv, label: str, progress: bool) -> tuple[dict[str, float], float]:
    """One pass over ``loader``; returns (mean loss parts over all ranks, images/s over all ranks)."""
    from tqdm import tqdm

    step_module.train()
    sums: dict[str, float] = {}
    images, started = 0, time.perf_counter()
    bar = tqdm(loader, desc=label, leave=False, dynamic_ncols=True, disable=not (progress and env.is_main))
    for index, batch in enumerate(bar):
        batch = to_device(batch, recipe, env)
        with training_autocast(recipe, env, scaler):
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


def to_device(batch: dict[str, torch.Tensor], recipe: Recipe, env: DistEnv) -> dict[str, torch.Tensor]:
    """The batch on ``env.device``; (N, C, H, W) images in channels_last order when the recipe asks for it."""
    batch = {key: value.to(env.device, non_blocking=True) for key, value in batch.items()}
    if recipe.channels_last and batch["image"].dim() == 4:
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
    return batch


def training_autocast(recipe: Recipe, env: DistEnv, scaler):
    """fp16 autocast with the AMP scaler on CUDA; bf16 autocast on a CPU with native bf16 when the recipe asks
    (``cpu_bf16``; no scaler: bf16 has float32's range); else none. Weights and validation stay float32."""
    if scaler.is_enabled():
        return torch.autocast("cuda", dtype=torch.float16)
    if recipe.cpu_bf16 and env.device == "cpu" and cpu_has_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo): elsewhere
    torch emulates it, slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def validate(model: nn.Module, dataset: FaceDataset, batch_size: int, device: str = "cpu") -> dict:
    """The task summary (edgekit.metrics.summarize, as eval prints it) of ``model`` on ``dataset``, decoded in
    numpy."""
    from edgekit.metrics import summarize
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


def build_for_training(recipe: Recipe, env: DistEnv) -> nn.Module:
    """The recipe's model on ``env.device``, its teacher attached (loaded first, since its feature channels size
    the student's lifts; with the RNG forked, so the student's initialisation does not depend on the teacher) and
    the recipe's loss chosen."""
    with torch.random.fork_rng(devices=[]):
        teacher = load_teacher(recipe, env)
    model = build_model(recipe.model, model_args(recipe, teacher)).to(env.device)
    if recipe.init:
        start_from(model, recipe)
    attach_teacher(model, recipe, env, teacher)
    choose_loss(model, recipe)
    return model.to(memory_format=torch.channels_last) if recipe.channels_last else model  # 4-D weights only


def start_from(model: nn.Module, recipe: Recipe) -> None:
    """Load ``recipe.init`` (weights of the same model and arguments) into ``model``: a one-line ModelFileError
    naming the file otherwise."""
    source = weights_source(recipe.init)
    state = load_model(source, expect=recipe.model).state_dict()
    own = model.state_dict()
    # a student's distillation lifts are sized for the teacher they learned from: for another teacher they start
    # fresh (they are not part of the exported model); every other tensor must fit
    fresh = {k: own[k] for k in own if k.startswith("lifts.") and k in state and state[k].shape != own[k].shape}
    load_state(model, {**state, **fresh}, source, recipe.model)


def weights_source(source: str) -> str | Path:
    """A registered name as is; a weights path resolved like data paths (working directory, else the checkout)."""
    if Path(source).suffix in (".safetensors", *CHECKPOINT_SUFFIXES):
        return resolve_path(source)
    return source


def teacher_source(recipe: Recipe) -> str | Path:
    return weights_source(recipe.distill.teacher)


def load_teacher(recipe: Recipe, env: DistEnv) -> nn.Module | None:
    """The frozen teacher named by ``distill.teacher`` (None without distillation); a model without
    ``teach`` (not a heatmap net) is a ModelFileError naming its file."""
    if recipe.distill is None:
        return None
    source = teacher_source(recipe)
    teacher = load_model(source).to(env.device).requires_grad_(False)
    if not hasattr(teacher, "teach"):
        raise ModelFileError(f"teacher weights are for model {model_identity(teacher)[0]}, which cannot teach "
                             f"{recipe.model} (it has no teacher features)", source)
    return teacher


def attach_teacher(model: nn.Module, recipe: Recipe, env: DistEnv, teacher: nn.Module | None = None) -> None:
    """Distillation: hand the frozen teacher (loaded here unless given) to the student (MobileFAN's
    ``set_teacher``). A teacher of another landmark scheme is a SpecError of the recipe (the CLI names the file)."""
    if recipe.distill is None:
        return
    if not hasattr(model, "set_teacher"):
        raise EdgekitError(f"recipe has a 'distill' section but model {recipe.model} takes no teacher")
    teacher = teacher if teacher is not None else load_teacher(recipe, env)
    name, source = model_identity(teacher)[0], teacher_source(recipe)
    ours, theirs = model.spec, teacher.spec
    if (theirs.scheme, theirs.head.num_points) != (ours.scheme, ours.head.num_points):
        raise SpecError(f"distill.teacher {source} ({name}) predicts {theirs.head.num_points} {theirs.scheme} "
                        f"landmarks, {recipe.model} {ours.head.num_points} {ours.scheme}: a teacher must share "
                        "the student's landmark scheme")
    try:
        model.set_teacher(teacher)
    except (ValueError, AttributeError, TypeError) as exc:  # a teacher of another architecture
        raise ModelFileError(f"teacher weights are for model {name}, which cannot teach {recipe.model} "
                             f"({type(exc).__name__}: {exc})", source) from None


def model_args(recipe: Recipe, teacher: nn.Module | None = None) -> dict:
    """Builder args: the recipe's, plus the distillation loss weights when it distils and the width of the
    teacher's features (``teacher_channels``, the student's lift width) when the teacher is known."""
    args = dict(recipe.model_args)
    if recipe.distill is not None:
        distill = recipe.distill
        args.update(kd_pixel=distill.kd_pixel, kd_pair=distill.kd_pair, kd_heatmap=distill.kd_heatmap)
        if teacher is not None:
            args["teacher_channels"] = teacher.feature_channels[0]
    return args


def choose_loss(model: nn.Module, recipe: Recipe) -> None:
    """The recipe's ``loss`` (none: the model's default); a kind the model does not take is a SpecError."""
    if recipe.loss is None:
        return
    try:
        model.use_loss(recipe.loss)
    except (ValueError, AttributeError) as exc:
        raise SpecError(f"recipe loss: {exc}") from None


def checkpoint_state(model, optimizer, scheduler, scaler, state: RunState, recipe: Recipe,
                     rank_rngs: list[dict]) -> dict:
    """What ``last.pt`` / ``best.pt`` hold. ``rank_rngs``: every rank's RNG state (``gather_to_main``); "rng" is
    rank 0's, and under torchrun "rng_ranks" holds them all, in rank order, for ``restore_rank_rng``."""
    name, args = model_identity(model)
    ranks = {"rng_ranks": rank_rngs} if len(rank_rngs) > 1 else {}
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
        "rng": rank_rngs[0],
        **ranks,
        "recipe": recipe.to_dict(),
    }


def restore_rank_rng(path: Path, env: DistEnv, seed: int, epoch: int) -> None:
    """Under torchrun, after ``restore``: this rank's own RNG state from ``rng_ranks`` of ``path``. A checkpoint of
    another world size (or of one process) has none that fits: each rank then takes fresh streams from
    (seed, rank, epoch), as the data order changes with the world size anyway."""
    states = load_checkpoint(path).get("rng_ranks")
    if not isinstance(states, list) or len(states) != env.world_size:
        seed_rank(seed, env.rank, epoch)
        return
    try:
        restore_rng_state(states[env.rank])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        raise ModelFileError(f"not a resumable checkpoint: rng_ranks[{env.rank}] is not an RNG state "
                             f"({type(exc).__name__})", path) from None


def restore(path: Path, model, optimizer, scheduler, scaler) -> RunState:
    """Load ``last.pt`` into the live objects; a checkpoint of another model is a ModelFileError."""
    if not path.is_file():
        raise EdgekitError("nothing to resume: no last.pt in the run folder (drop --resume to start)", path.parent)
    return RunState(**ckpt.resume_into(path, model, optimizer, scheduler, scaler))  # checked, else one line
