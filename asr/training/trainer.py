"""The training loop: one function, read top to bottom.

    data → (SpecAugment) → model → CTC loss → backward (accumulated, DDP-synchronised) → clip → AdamW → schedule
    every epoch: dev loss + greedy WER/CER → last.pt, the best-k checkpoints, early stopping
    at the end: model.pt (the best epoch, packaged), curves.png

Determinism. Each global batch seeds the RNG from (seed, epoch, global batch index) before its forward pass, so
dropout and SpecAugment draw the same numbers for a batch whichever rank processes it, a W-process run equals a
single-process run that accumulates the same W batches per step (up to the order in which the all-reduce sums
gradients), and a resumed run redraws exactly what the interrupted one would have. Checkpoints land only on
optimizer-step boundaries and record the sampler position. On the CPU a resumed run is therefore bit-identical to an
uninterrupted one; on CUDA it is not, since cuDNN's kernels and CTC's backward pass are nondeterministic there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from asr.data import (
    BucketingBatchSampler,
    FeatureStore,
    SpecAugment,
    SpecAugmentConfig,
    SpeechDataset,
    collate,
)
from asr.data.manifest import read_manifest
from asr.decoding import greedy_decode
from asr.errors import ASRError, InputError
from asr.features import CMVN, CMVN_MODES, FeatureConfig
from asr.fileio import remove_stale_temps
from asr.metrics import ErrorCounts, char_errors, word_errors
from asr.model import AcousticModel, ModelConfig
from asr.package import load_packaged_model
from asr.text import BPETokenizer, CharTokenizer, Tokenizer, normalize_text, tokenizer_from_dict
from asr.training import distributed
from asr.training.checkpoint import (
    LAST,
    BestCheckpoints,
    load_checkpoint,
    packaged_from_checkpoint,
    save_checkpoint,
)
from asr.training.loggers import LogConfig, MetricLoggers, plot_curves


@dataclass
class TrainConfig:
    epochs: int = 20
    max_frames: int = 20000  # padded input frames per batch on each rank
    max_batch_size: int | None = None
    sortagrad: bool = True  # first epoch shortest-first
    accumulate: int = 1  # batches per optimizer step on each rank
    batches_multiple_of: int | None = None  # None: the world size (see BucketingBatchSampler)
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = 0.01
    warmup_steps: int = 500
    schedule: str = "cosine"  # cosine | linear | constant (after warmup)
    min_lr_ratio: float = 0.05  # where cosine / linear decay ends, relative to lr
    grad_clip: float = 5.0  # global gradient norm
    amp: str = "off"  # off | bf16 | fp16 — CUDA only
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # CPU threads for torch (0: torch's default)
    num_workers: int = 0  # DataLoader worker processes
    seed: int = 1234
    keep_best: int = 3  # epoch checkpoints kept, by dev WER
    keep_last: int = 0  # also keep the checkpoints of this many newest epochs (what `asr average --last K` needs)
    patience: int = 0  # stop after this many epochs without a better dev WER (0: never)
    checkpoint_every_steps: int = 0  # also write last.pt every N steps (0: only at epoch ends)
    stop_after_steps: int = 0  # end this run after N steps, checkpointed; the next run resumes (0: off)
    # Likewise after N minutes of this run (checked where metrics are logged, every log.every_steps steps, so all
    # ranks stop at the same step): for a machine lent for a fixed time (0: off).
    stop_after_minutes: float = 0.0
    resume: bool = True  # continue from RUN_DIR/checkpoints/last.pt when it exists
    # Fine-tuning: a packaged model (asr export, averaged.pt, model.pt) whose weights start the run. Its architecture,
    # tokenizer and CMVN statistics are kept (the model.* settings are not used), so that the inputs and outputs mean
    # what they meant in its training; its features settings must be the store's. Ignored once the run resumes.
    init_from: str | None = None


@dataclass
class DataConfig:
    train_manifest: str = "data/synthetic/train.jsonl"
    dev_manifest: str = "data/synthetic/dev.jsonl"
    store: str = "data/synthetic/features"
    tokenizer: str = "char"  # char | bpe | a tokenizer file (.json) from `asr prep tokenizer`
    bpe_vocab_size: int = 256
    cmvn: str = "global"  # global | utterance | running (asr.features.CMVN); the package carries it to inference
    # More training manifests, each "PATH" or "PATH*N": its utterances N times per epoch (a weight, for a small
    # corpus mixed into a large one, e.g. your recordings into the generated corpus). Their features must be in
    # ``store`` too.
    extra_train: list[str] = field(default_factory=list)


def batch_seed(seed: int, epoch: int, global_index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, global_index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def lr_factor(step: int, config: TrainConfig, total_steps: int) -> float:
    """Linear warmup to 1, then constant, cosine or linear decay to ``min_lr_ratio`` at ``total_steps``."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    floor = config.min_lr_ratio
    if config.schedule == "linear":
        return floor + (1 - floor) * (1 - progress)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases and normalisation gains."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.dim() < 2 or "norm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class CTCLossSum(NamedTuple):
    total: torch.Tensor  # summed CTC loss of the batch; utterances with no valid alignment count zero
    tokens: torch.Tensor  # target tokens of the whole batch (what the training loss is divided by)
    scored_tokens: torch.Tensor  # target tokens of the utterances that have a valid alignment


def ctc_loss(log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor,
             target_lengths: torch.Tensor) -> CTCLossSum:
    """Summed CTC loss of the batch and its target-token counts; infeasible alignments count zero.

    An utterance is infeasible when it has fewer output frames than CTC needs to spell its targets: one per token
    plus one blank between each pair of repeated tokens. ``zero_infinity`` zeroes its loss, so a loss per token
    that is logged must not count its tokens either (``scored_tokens``).
    """
    per_utt = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0,
                         reduction="none", zero_infinity=True)
    positions = torch.arange(1, targets.shape[1], device=targets.device)
    repeats = ((targets[:, 1:] == targets[:, :-1]) & (positions[None, :] < target_lengths[:, None])).sum(dim=1)
    feasible = out_lengths.to(targets.device) >= target_lengths + repeats
    return CTCLossSum(per_utt.sum(), target_lengths.sum(), target_lengths[feasible].sum())


def optimizer_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                   clip: float) -> tuple[float, bool]:
    """Unscale, clip to ``clip`` global norm, step unless the gradient is non-finite. Returns (norm, stepped)."""
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf"))
    finite = bool(torch.isfinite(norm))
    if finite:
        scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return float(norm), finite


@torch.no_grad()
def evaluate(model: AcousticModel, loader: DataLoader, tokenizer: Tokenizer, device: torch.device,
             autocast) -> dict[str, float]:
    """Dev loss per token and greedy WER/CER, summed over every rank's share of the dev set."""
    model.eval()
    loss_sum = tokens = 0.0
    words, chars = ErrorCounts(), ErrorCounts()
    for batch in loader:
        batch = batch.to(device)
        with autocast():
            log_probs, out_lengths = model(batch.features, batch.feature_lengths)
        loss = ctc_loss(log_probs.float(), out_lengths, batch.targets, batch.target_lengths)
        loss_sum += float(loss.total)
        tokens += float(loss.scored_tokens)
        hypotheses = greedy_decode(log_probs, out_lengths, tokenizer, frame_shift_s=0.0)
        for ref, hyp in zip(batch.texts, (h.text for h in hypotheses)):
            words += word_errors(ref, hyp)
            chars += char_errors(ref, hyp)
    model.train()
    totals = distributed.all_reduce_sum(
        [loss_sum, tokens, words.substitutions, words.deletions, words.insertions, words.reference_length,
         chars.substitutions, chars.deletions, chars.insertions, chars.reference_length], device)
    w = ErrorCounts(*map(int, totals[2:6]))
    c = ErrorCounts(*map(int, totals[6:10]))
    return {"loss": totals[0] / max(totals[1], 1.0), "wer": w.rate, "cer": c.rate}


def build_tokenizer(config: DataConfig, texts: list[str]) -> Tokenizer:
    if config.tokenizer.endswith(".json"):  # built once by `asr prep tokenizer` (a recipe's tokenizer stage)
        from asr.data.tokenizer_file import load_tokenizer

        return load_tokenizer(config.tokenizer)
    if config.tokenizer == "char":
        return CharTokenizer()
    if config.tokenizer == "bpe":
        return BPETokenizer.train(texts, vocab_size=config.bpe_vocab_size)
    raise ASRError(f"data.tokenizer must be 'char' or 'bpe', not {config.tokenizer!r}")


def extra_manifest(spec: str) -> tuple[str, int]:
    """``"PATH"`` or ``"PATH*N"`` (``data.extra_train``) → (PATH, N)."""
    path, star, count = str(spec).rpartition("*")
    if not star:
        return str(spec), 1
    if not count.isdigit() or int(count) < 1 or not path:
        raise ASRError(f"data.extra_train: {spec!r} is not PATH or PATH*N with N a whole number of at least 1")
    return path, int(count)


def _datasets(config: DataConfig, store: FeatureStore, tokenizer: Tokenizer | None, cmvn: CMVN | None = None):
    parts = [(config.train_manifest, 1), *(extra_manifest(spec) for spec in config.extra_train)]
    read = [(path, repeat, read_manifest(path)) for path, repeat in parts]
    seen: dict[str, str] = {}
    for path, _, utts in read:
        for utt in utts:
            if seen.setdefault(utt.id, path) != path:
                raise InputError(path, f"utterance id {utt.id!r} is also in {seen[utt.id]}: ids must be unique")
    train_utts = [utt for _, repeat, utts in read for _ in range(repeat) for utt in utts]
    dev_utts = read_manifest(config.dev_manifest)
    for manifest, utts in [*((path, utts) for path, _, utts in read), (config.dev_manifest, dev_utts)]:
        missing = [u.id for u in utts if u.id not in store]
        if missing:
            raise InputError(manifest, f"{len(missing)} utterances have no features in {config.store} "
                                       f"(e.g. {missing[0]}); run `asr features` on this manifest")
    if tokenizer is None:
        tokenizer = build_tokenizer(config, [normalize_text(u.text) for u in train_utts])
    if config.cmvn not in CMVN_MODES:
        raise ASRError(f"data.cmvn must be one of {', '.join(CMVN_MODES)}, not {config.cmvn!r}")
    cmvn = cmvn or store.cmvn.with_mode(config.cmvn)  # a given one (a checkpoint's, a package's) is kept as it is
    return (SpeechDataset(train_utts, store, tokenizer, cmvn=cmvn), SpeechDataset(dev_utts, store, tokenizer, cmvn=cmvn),
            tokenizer)


def earlier_run_files(run_dir: Path) -> list[str]:
    """What a run folder holds of an earlier run's results (checkpoints, metrics, model), relative to it."""
    found = [run_dir / "checkpoints" / LAST, *sorted((run_dir / "checkpoints").glob("epoch-*.pt")),
             run_dir / "model.pt", run_dir / "metrics.jsonl"]
    return [p.relative_to(run_dir).as_posix() for p in found if p.is_file() and p.stat().st_size > 0]


def train(cfg: DictConfig) -> Path:
    """Train as configured by ``cfg`` (the composed Hydra tree); returns the run folder."""
    dist = distributed.setup(cfg.train.device)
    try:
        return _train(cfg, dist)
    finally:
        distributed.teardown()


def _train(cfg: DictConfig, dist: distributed.DistInfo) -> Path:
    tc = TrainConfig(**cfg.train)
    dc = DataConfig(**cfg.data)
    lc = LogConfig(**cfg.log)
    run_dir = Path(cfg.run_dir)
    ckpt_dir = run_dir / "checkpoints"
    device = dist.device
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if not tc.resume:  # every rank checks (the folder is shared), so that all of them stop, not only rank 0
        earlier = earlier_run_files(run_dir)
        if earlier:
            raise InputError(run_dir, f"holds an earlier run ({', '.join(earlier)}); train.resume=false starts a new "
                                      f"run, which would mix with it: delete the folder or choose another run_dir")
    if dist.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        for folder in (run_dir, ckpt_dir):  # files a process killed mid-write left; rank 0 alone writes here
            remove_stale_temps(folder, all_writers=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    distributed.barrier()

    # --- resume state, data, model ------------------------------------------------------------------
    resumed = load_checkpoint(ckpt_dir / LAST) if tc.resume and (ckpt_dir / LAST).is_file() else None
    store = FeatureStore(dc.store)
    initial = load_packaged_model(tc.init_from) if tc.init_from and not resumed else None
    # The features: a fine-tuned package's own (as its architecture is), a resumed run's its checkpoint's,
    # otherwise those the features config names.
    if initial is not None:
        if initial.feature_config != store.feature_config:
            raise InputError(tc.init_from, f"was trained on features {initial.feature_config}, but {dc.store} "
                                           f"holds {store.feature_config}; extract features with its settings")
        if initial.cmvn.mode != dc.cmvn and dist.is_main:
            print(f"train: {tc.init_from} normalises with {initial.cmvn.mode} CMVN, which the run keeps "
                  f"(data.cmvn={dc.cmvn} is not used)")
    else:
        wanted = FeatureConfig.from_dict(resumed["feature_config"]) if resumed else FeatureConfig(**cfg.features)
        if store.feature_config != wanted:
            raise InputError(dc.store, f"features were extracted with {store.feature_config}, but the run "
                                       f"asks for {wanted}; re-run `asr features` or fix the features config")
    # What the run starts from: its own checkpoint, a package to fine-tune, or nothing (tokenizer, CMVN and
    # architecture then come from the configuration and the data).
    if resumed:
        start_tokenizer, start_cmvn = tokenizer_from_dict(resumed["tokenizer"]), CMVN.from_dict(resumed["cmvn"])
        start_config = ModelConfig.from_dict(resumed["model_config"])
    elif initial:
        start_tokenizer, start_cmvn, start_config = initial.tokenizer, initial.cmvn, initial.model.config
    else:
        start_tokenizer = start_cmvn = start_config = None
    train_set, dev_set, tokenizer = _datasets(dc, store, start_tokenizer, start_cmvn)
    sampler = BucketingBatchSampler(train_set.num_frames, tc.max_frames, shuffle=True, seed=tc.seed,
                                    rank=dist.rank, world_size=dist.world_size, sortagrad=tc.sortagrad,
                                    max_batch_size=tc.max_batch_size,
                                    batches_multiple_of=tc.batches_multiple_of or dist.world_size)
    loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=tc.num_workers,
                        pin_memory=device.type == "cuda", persistent_workers=tc.num_workers > 0)
    dev_loader = DataLoader(dev_set, collate_fn=collate, num_workers=tc.num_workers,
                            batch_sampler=BucketingBatchSampler(dev_set.num_frames, tc.max_frames, shuffle=False,
                                                                rank=dist.rank, world_size=dist.world_size))
    model_config = start_config or ModelConfig(**{**OmegaConf.to_container(cfg.model, resolve=True),
                                                  "input_size": store.feature_config.dim,
                                                  "vocab_size": tokenizer.vocab_size})
    torch.manual_seed(tc.seed)  # identical initial weights on every rank
    model = AcousticModel(model_config).to(device)
    if initial is not None:
        model.load_state_dict(initial.model.state_dict())
        if dist.is_main:
            print(f"train: starting from {tc.init_from} ({model_config.num_layers} x {model_config.hidden_size} "
                  f"{model_config.cell.upper()}; its architecture, tokenizer and CMVN; model.* settings unused)")
    ddp_model = (DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
                 if dist.distributed else model)
    optimizer = torch.optim.AdamW(parameter_groups(model, tc.weight_decay), lr=tc.lr, betas=tuple(tc.betas))
    steps_per_epoch = math.ceil(len(sampler) / tc.accumulate)
    total_steps = steps_per_epoch * tc.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, tc, total_steps))
    use_amp = tc.amp in ("bf16", "fp16") and device.type == "cuda"
    amp_dtype = torch.bfloat16 if tc.amp == "bf16" else torch.float16

    def autocast():
        return torch.autocast("cuda", dtype=amp_dtype, enabled=use_amp)

    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and tc.amp == "fp16")
    specaugment = SpecAugment(SpecAugmentConfig(**cfg.augment)).to(device)

    epoch = position = step = bad_epochs = 0
    train_seconds = 0.0  # wall time spent in this run's epochs, summed over resumed runs
    history: list[dict] = []
    best = BestCheckpoints(ckpt_dir, tc.keep_best, keep_last=tc.keep_last)
    if resumed:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        scaler.load_state_dict(resumed["scaler"])
        epoch, position, step = resumed["epoch"], resumed["position"], resumed["step"]
        history, bad_epochs = resumed["history"], resumed["bad_epochs"]
        train_seconds = resumed.get("train_seconds", 0.0)
        best = BestCheckpoints(ckpt_dir, tc.keep_best, resumed["best"], tc.keep_last, resumed.get("kept"))
        torch.set_rng_state(resumed["rng"]["torch"])
    loggers = MetricLoggers(run_dir, lc, dist.is_main, OmegaConf.to_container(cfg, resolve=True), resumed is not None)
    frame_seconds = 1 / store.feature_config.frame_rate  # the hop in whole samples, as the features were made

    def checkpoint_state() -> dict:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "epoch": epoch,
                "position": position, "step": step, "history": history, "bad_epochs": bad_epochs,
                "stopped_early": stopped_early,
                "train_seconds": train_seconds + time.perf_counter() - run_start,
                "best": best.entries, "kept": best.kept, "rng": {"torch": torch.get_rng_state()},
                "model_config": model_config.to_dict(), "feature_config": store.feature_config.to_dict(),
                "tokenizer": tokenizer.to_dict(), "cmvn": train_set.cmvn.to_dict(),
                "config": OmegaConf.to_container(cfg, resolve=True),
                "provenance": {"train_manifest": str(dc.train_manifest), **({"extra_train": list(dc.extra_train)}
                                                                           if dc.extra_train else {}),
                               "dev_manifest": str(dc.dev_manifest),
                               "train_utterances": len(train_set), "train_hours": sum(train_set.durations) / 3600,
                               "world_size": dist.world_size, "init_from": tc.init_from}}

    if dist.is_main:
        print(f"train: {len(train_set)} utterances ({sum(train_set.durations) / 3600:.2f} h), dev {len(dev_set)}; "
              f"model {model.num_parameters() / 1e6:.2f}M parameters; {steps_per_epoch} steps/epoch × {tc.epochs} "
              f"epochs on {dist.world_size} × {device.type}" + (f"; resuming at step {step}" if resumed else ""))

    # --- the loop -----------------------------------------------------------------------------------
    run_start = time.perf_counter()
    steps_this_run = 0
    interrupted = False

    def budget_spent(logged: bool) -> bool:
        """This run's train.stop_after_steps or stop_after_minutes is used up. Time is checked only at logged steps
        and by rank 0's clock, so that every rank stops at the same step."""
        if tc.stop_after_steps and steps_this_run >= tc.stop_after_steps:
            return True
        if not tc.stop_after_minutes or not logged:
            return False
        return distributed.broadcast_flag(time.perf_counter() - run_start >= 60 * tc.stop_after_minutes, device)
    # A run that ended by early stopping stays ended when the same job is submitted again (unless the patience is
    # raised); a finished run is not trained further, and its model.pt is left as it is.
    stopped_early = bool(tc.patience) and bad_epochs >= tc.patience
    finished_before = resumed is not None and (stopped_early or epoch >= tc.epochs)
    while epoch < tc.epochs and not (stopped_early or interrupted):
        sampler.set_epoch(epoch)
        sampler.load_state_dict({"epoch": epoch, "position": position})
        ddp_model.train()
        batches = iter(loader)
        n_batches = len(sampler)
        progress = None
        if dist.is_main and lc.progress_bar:
            from tqdm import tqdm

            progress = tqdm(total=n_batches, initial=position, desc=f"epoch {epoch + 1}/{tc.epochs}",
                            dynamic_ncols=True, leave=False)
        window = {"loss": 0.0, "tokens": 0.0, "frames": 0.0, "wait": 0.0, "start": time.perf_counter(),
                  "norm": 0.0, "steps": 0, "skipped": 0}
        while position < n_batches:
            group = min(tc.accumulate, n_batches - position)
            for j in range(group):
                wait_start = time.perf_counter()
                batch = next(batches).to(device, non_blocking=True)
                window["wait"] += time.perf_counter() - wait_start
                torch.manual_seed(batch_seed(tc.seed, epoch, (position + j) * dist.world_size + dist.rank))
                sync = j == group - 1 or not dist.distributed
                with (ddp_model.no_sync() if not sync else torch.enable_grad()), autocast():
                    features = specaugment(batch.features, batch.feature_lengths)
                    log_probs, out_lengths = ddp_model(features, batch.feature_lengths)
                    ctc = ctc_loss(log_probs.float(), out_lengths, batch.targets, batch.target_lengths)
                    loss = ctc.total / ctc.tokens.clamp(min=1)
                    scaler.scale(loss / group).backward()
                window["loss"] += float(ctc.total.detach())
                window["tokens"] += float(ctc.scored_tokens)
                window["frames"] += float(batch.feature_lengths.sum())
            norm, stepped = optimizer_step(model, optimizer, scaler, tc.grad_clip)
            scheduler.step()
            step += 1
            steps_this_run += 1
            position += group
            window["norm"] += norm if math.isfinite(norm) else 0.0
            window["steps"] += 1
            if not stepped:
                window["skipped"] += 1
                if dist.is_main:
                    print(f"train: step {step} skipped: non-finite gradient norm ({norm})")
            if progress is not None:
                progress.update(group)
            if step % lc.every_steps == 0 or position == n_batches:
                loss_sum, tokens, frames = distributed.all_reduce_sum(
                    [window["loss"], window["tokens"], window["frames"]], device)
                elapsed = time.perf_counter() - window["start"]
                metrics = {"loss": loss_sum / max(tokens, 1.0), "lr": scheduler.get_last_lr()[0],
                           "grad_norm": window["norm"] / window["steps"],
                           "audio_s_per_s": frames * frame_seconds / elapsed,
                           "data_wait_frac": window["wait"] / elapsed, "skipped_steps": window["skipped"],
                           "epoch": epoch + position / n_batches}
                loggers.log(step, metrics)
                if progress is not None:
                    progress.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{metrics['lr']:.2e}",
                                         gnorm=f"{metrics['grad_norm']:.2f}",
                                         audio_s_s=f"{metrics['audio_s_per_s']:.0f}")
                window = {"loss": 0.0, "tokens": 0.0, "frames": 0.0, "wait": 0.0, "start": time.perf_counter(),
                          "norm": 0.0, "steps": 0, "skipped": 0}
            if tc.checkpoint_every_steps and step % tc.checkpoint_every_steps == 0 and position < n_batches:
                if dist.is_main:
                    save_checkpoint(checkpoint_state(), ckpt_dir / LAST)
            if position < n_batches and budget_spent(logged=step % lc.every_steps == 0):
                interrupted = True
                break
        if progress is not None:
            progress.close()
        if interrupted:
            break

        # --- end of epoch: dev evaluation, checkpoints, early stopping ----------------------------
        dev = evaluate(model, dev_loader, tokenizer, device, autocast)
        # DDP keeps replicas identical by construction; check it, since silent divergence would waste the run.
        fingerprints = distributed.all_gather_object(distributed.weights_fingerprint(model))
        if len(set(fingerprints)) > 1:
            raise RuntimeError(f"weights differ across ranks after epoch {epoch + 1}: {fingerprints}")
        dev["rank_fingerprints"] = fingerprints
        epoch += 1
        position = 0
        improved = not history or dev["wer"] < min(h["wer"] for h in history)
        bad_epochs = 0 if improved else bad_epochs + 1
        history.append({"epoch": epoch, "step": step, **dev})
        loggers.log(step, {k: v for k, v in dev.items() if k != "rank_fingerprints"}, kind="dev")
        stopped_early = distributed.broadcast_flag(bool(tc.patience) and bad_epochs >= tc.patience, device)
        if dist.is_main:
            print(f"epoch {epoch}/{tc.epochs}  step {step}  dev loss {dev['loss']:.3f}  "
                  f"WER {100 * dev['wer']:.2f}%  CER {100 * dev['cer']:.2f}%" + ("  (best)" if improved else ""))
            state = checkpoint_state()
            best.add(epoch, dev["wer"], state)
            state["best"], state["kept"] = best.entries, best.kept
            save_checkpoint(state, ckpt_dir / LAST)
        if stopped_early and dist.is_main:
            print(f"train: early stop: no better dev WER for {tc.patience} epochs")
        interrupted = budget_spent(logged=True) and epoch < tc.epochs

    if interrupted:
        if dist.is_main:
            save_checkpoint(checkpoint_state(), ckpt_dir / LAST)
            print(f"train: stopped after {steps_this_run} steps this run (step {step}); "
                  f"run again to resume from {ckpt_dir / LAST}")
    elif dist.is_main and finished_before and (run_dir / "model.pt").is_file():
        why = (f"it stopped early at epoch {epoch} (no better dev WER for {bad_epochs} epochs; raise train.patience "
               f"to train on)" if stopped_early else f"all {tc.epochs} epochs are done (raise train.epochs to train on)")
        print(f"train: nothing to do in {run_dir}: {why}; {run_dir / 'model.pt'} is left as it was")
    elif dist.is_main and history:
        top = best.best
        source = load_checkpoint(ckpt_dir / top["path"]) if top else checkpoint_state()
        package = packaged_from_checkpoint(source, dev_wer=source["history"][-1]["wer"],
                                           dev_cer=source["history"][-1]["cer"],
                                           train_seconds=train_seconds + time.perf_counter() - run_start)
        package.save(run_dir / "model.pt")
        plot_curves(run_dir / "metrics.jsonl", run_dir / "curves.png")
        print(f"train: done after {step} steps; best dev WER {100 * min(h['wer'] for h in history):.2f}%; "
              f"wrote {run_dir / 'model.pt'}, {run_dir / 'curves.png'}, checkpoints in {ckpt_dir}")
    loggers.close()
    distributed.barrier()
    return run_dir
