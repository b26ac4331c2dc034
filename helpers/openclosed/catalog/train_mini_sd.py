"""Train the mini Stable Diffusion from scratch on drawn shapes (notebook 03).

The real Stable Diffusion component types, small: an ``AutoencoderKL``
(32x32 pictures <-> 4x8x8 latents), a 2-layer ``CLIPTextModel`` with a
``CLIPTokenizer`` learnt here from the caption words, a
``UNet2DConditionModel`` with cross-attention, and a DPM-Solver++ scheduler.
Saved with ``save_pretrained``, so ``StableDiffusionPipeline.from_pretrained``
loads it like any Stable Diffusion folder.

Two stages, as Stable Diffusion itself was trained:

1. the autoencoder learns to squeeze pictures into latents and back;
2. the pictures are encoded once (latents cached), and the UNet and text
   encoder learn to remove noise from latents given the caption; one caption
   in ten is replaced by "" so classifier-free guidance works.

Rerun (seeded; the committed weights came from this command)::

    python -m openclosed.catalog.train_mini_sd --seed 0 --out DIR

Data: :mod:`openclosed.catalog.shapes` (the :data:`~openclosed.catalog.shapes.HELD_OUT`
colour + shape pairs are never drawn).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import shapes
from .asset_files import folder_size_mb, write_asset_info
from .random_weights import _tiny_clip_tokenizer, import_diffusers_sd


@dataclass(frozen=True)
class MiniSDConfig:
    """Sizes and training lengths; :data:`FULL` made the committed weights, :data:`TINY` is for tests."""

    n_images: int = 4000
    vae_channels: tuple[int, ...] = (16, 32, 32)
    unet_channels: tuple[int, ...] = (32, 64)
    unet_layers: int = 1
    text_width: int = 64
    text_layers: int = 2
    max_length: int = 20
    vae_steps: int = 2000
    vae_batch: int = 16
    vae_lr: float = 3e-3
    kl_weight: float = 1e-6
    unet_steps: int = 7000
    unet_batch: int = 32
    unet_lr: float = 1e-3
    drop_caption: float = 0.1
    time_budget_s: float | None = None
    extra: dict = field(default_factory=dict)


FULL = MiniSDConfig()
TINY = MiniSDConfig(n_images=64, vae_channels=(8, 16), unet_channels=(16, 32), text_width=16, text_layers=1,
                    vae_steps=30, vae_batch=16, vae_lr=1e-3, unet_steps=40, unet_batch=16, unet_lr=2e-3)

TRAIN_SEED_OFFSET = 0
"""Drawn training pictures use ``seed``; the adherence classifier draws from other seeds."""


def caption_corpus() -> list[str]:
    """Every caption word, in phrases, for learning the tokenizer's merges."""
    texts = [f"a {size} {colour} {shape}" for size in shapes.SIZES for colour in shapes.COLOURS for shape in shapes.SHAPES]
    texts += [f"{place} on a {bg} background" for place in shapes.PLACES for bg in shapes.BACKGROUNDS]
    return texts * 3


def build(cfg: MiniSDConfig, seed: int) -> dict[str, Any]:
    """Freshly initialised components (seeded): tokenizer, text_encoder, vae, unet, scheduler."""
    import torch
    from diffusers import DDPMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    AutoencoderKL, _, _, UNet2DConditionModel = import_diffusers_sd()
    tokenizer = _tiny_clip_tokenizer(max_merges=600, corpus=caption_corpus(), max_length=cfg.max_length)
    torch.manual_seed(seed)
    groups = min(cfg.vae_channels[0], 32) // 2
    vae = AutoencoderKL(
        sample_size=shapes.SIZE, in_channels=3, out_channels=3, latent_channels=4,
        block_out_channels=cfg.vae_channels, layers_per_block=1, norm_num_groups=groups,
        down_block_types=("DownEncoderBlock2D",) * len(cfg.vae_channels),
        up_block_types=("UpDecoderBlock2D",) * len(cfg.vae_channels),
    )
    factor = 2 ** (len(cfg.vae_channels) - 1)
    torch.manual_seed(seed + 1)
    unet = UNet2DConditionModel(
        sample_size=shapes.SIZE // factor, in_channels=4, out_channels=4,
        block_out_channels=cfg.unet_channels, layers_per_block=cfg.unet_layers,
        down_block_types=("CrossAttnDownBlock2D",) * len(cfg.unet_channels),
        up_block_types=("CrossAttnUpBlock2D",) * len(cfg.unet_channels),
        cross_attention_dim=cfg.text_width, attention_head_dim=8, norm_num_groups=min(cfg.unet_channels[0], 32) // 2,
    )
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.text_width, intermediate_size=cfg.text_width * 4,
        num_hidden_layers=cfg.text_layers, num_attention_heads=4, projection_dim=cfg.text_width,
        max_position_embeddings=cfg.max_length, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))
    noise = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                          steps_offset=1)
    return {"tokenizer": tokenizer, "text_encoder": text_encoder, "vae": vae, "unet": unet, "noise": noise}


def to_tensor(images: list[Any]) -> Any:
    """PIL pictures -> float tensor (N, 3, H, W) in [-1, 1], as Stable Diffusion's VAE expects."""
    import numpy as np
    import torch

    arr = np.stack([np.asarray(im, dtype=np.float32) for im in images]) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def _steps(n: int, what: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(range(n), desc=what, disable=not progress, mininterval=2)


def train_vae(vae: Any, pixels: Any, cfg: MiniSDConfig, seed: int, progress: bool = True) -> list[float]:
    """Stage 1: reconstruction (L1: sharper edges and truer colours than MSE) + a tiny KL term. Returns the loss per step."""
    import torch

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.vae_lr, total_steps=cfg.vae_steps, pct_start=0.05)
    vae.train()
    losses = []
    for _ in _steps(cfg.vae_steps, "autoencoder", progress):
        x = pixels[torch.randint(0, len(pixels), (cfg.vae_batch,), generator=g)]
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=g)
        rec = vae.decode(z).sample
        loss = torch.nn.functional.l1_loss(rec, x) + cfg.kl_weight * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    vae.eval()
    return losses


def encode_latents(vae: Any, pixels: Any, batch: int = 256) -> Any:
    """Latent means of ``pixels`` (unscaled)."""
    import torch

    with torch.no_grad():
        return torch.cat([vae.encode(pixels[i:i + batch]).latent_dist.mean for i in range(0, len(pixels), batch)])


def tokenize(tokenizer: Any, captions: list[str]) -> Any:
    """Token ids exactly as ``StableDiffusionPipeline`` makes them (padded to the maximum length, no mask)."""
    return tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


def train_unet(parts: dict[str, Any], latents: Any, captions: list[str], cfg: MiniSDConfig, seed: int,
               progress: bool = True, deadline: float | None = None) -> list[float]:
    """Stage 2: the UNet and text encoder learn to predict the noise added to (scaled) latents."""
    import torch

    unet, text_encoder, noise = parts["unet"], parts["text_encoder"], parts["noise"]
    ids = tokenize(parts["tokenizer"], captions)
    empty = tokenize(parts["tokenizer"], [""])[0]
    g = torch.Generator().manual_seed(seed)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.unet_lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.unet_lr, total_steps=cfg.unet_steps, pct_start=0.03)
    unet.train()
    text_encoder.train()
    losses = []
    for _ in _steps(cfg.unet_steps, "denoiser", progress):
        idx = torch.randint(0, len(latents), (cfg.unet_batch,), generator=g)
        x0 = latents[idx]
        tok = ids[idx].clone()
        drop = torch.rand(len(idx), generator=g) < cfg.drop_caption
        tok[drop] = empty
        eps = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, noise.config.num_train_timesteps, (len(idx),), generator=g)
        xt = noise.add_noise(x0, eps, t)
        cond = text_encoder(tok)[0]
        pred = unet(xt, t, encoder_hidden_states=cond).sample
        loss = torch.nn.functional.mse_loss(pred, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if deadline is not None and time.perf_counter() > deadline:
            break
    unet.eval()
    text_encoder.eval()
    return losses


def pipeline(parts: dict[str, Any]) -> Any:
    """A ``StableDiffusionPipeline`` of the trained parts, with a DPM-Solver++ scheduler."""
    from diffusers import DPMSolverMultistepScheduler

    _, _, StableDiffusionPipeline, _ = import_diffusers_sd()
    scheduler = DPMSolverMultistepScheduler.from_config(parts["noise"].config)
    pipe = StableDiffusionPipeline(vae=parts["vae"], text_encoder=parts["text_encoder"], tokenizer=parts["tokenizer"],
                                   unet=parts["unet"], scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, image_encoder=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def curve(losses: list[float], points: int = 20) -> list[list[float]]:
    """[step, mean loss over the window ending there] at ``points`` evenly spaced steps."""
    if not losses:
        return []
    w = max(1, len(losses) // points)
    return [[i + w, round(sum(losses[i:i + w]) / len(losses[i:i + w]), 5)] for i in range(0, len(losses), w)]


def train(cfg: MiniSDConfig = FULL, seed: int = 0, progress: bool = True,
          log: Callable[[str], None] = print) -> tuple[Any, dict[str, Any]]:
    """Draw the data, train both stages; returns ``(pipeline, report)`` (report: losses, times, sizes)."""
    import torch

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    random.seed(seed)
    images, drawings = shapes.dataset(cfg.n_images, seed + TRAIN_SEED_OFFSET)
    captions = [d.caption() for d in drawings]
    pixels = to_tensor(images)
    parts = build(cfg, seed)
    t_data = time.perf_counter() - t0
    log(f"drew {len(images)} pictures in {t_data:.0f} s")

    t1 = time.perf_counter()
    vae_losses = train_vae(parts["vae"], pixels, cfg, seed, progress)
    t_vae = time.perf_counter() - t1
    log(f"autoencoder: {len(vae_losses)} steps in {t_vae:.0f} s, loss {vae_losses[0]:.4f} -> {vae_losses[-1]:.4f}")

    latents = encode_latents(parts["vae"], pixels)
    scale = float(1.0 / latents.std())
    parts["vae"].register_to_config(scaling_factor=scale)
    latents = latents * scale

    t2 = time.perf_counter()
    deadline = t0 + cfg.time_budget_s if cfg.time_budget_s else None
    unet_losses = train_unet(parts, latents, captions, cfg, seed, progress, deadline)
    t_unet = time.perf_counter() - t2
    log(f"denoiser: {len(unet_losses)} steps in {t_unet:.0f} s, loss {unet_losses[0]:.4f} -> {unet_losses[-1]:.4f}")

    pipe = pipeline(parts)
    n_params = {k: sum(p.numel() for p in parts[k].parameters()) for k in ("unet", "vae", "text_encoder")}
    report = {
        "seed": seed,
        "config": {k: v for k, v in asdict(cfg).items() if k != "extra"},
        "images": cfg.n_images,
        "held_out_pairs": [list(p) for p in shapes.HELD_OUT],
        "vae_steps": len(vae_losses),
        "unet_steps": len(unet_losses),
        "scaling_factor": round(scale, 5),
        "parameters": n_params,
        "seconds": {"data": round(t_data, 1), "autoencoder": round(t_vae, 1), "denoiser": round(t_unet, 1),
                    "total": round(time.perf_counter() - t0, 1)},
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "vae_loss_curve": curve(vae_losses),
        "unet_loss_curve": curve(unet_losses),
        "vae_losses": vae_losses,
        "unet_losses": unet_losses,
    }
    return pipe, report


def model_card(report: dict[str, Any]) -> str:
    """The model card (Markdown) of a trained mini SD: data, sizes, steps, training time, loss curves, licence."""
    cfg, sec, par = report["config"], report["seconds"], report["parameters"]
    held = ", ".join(f"{c} {s}" for c, s in report["held_out_pairs"])
    vae_curve = ", ".join(f"{s}: {v:.4f}" for s, v in report["vae_loss_curve"])
    unet_curve = ", ".join(f"{s}: {v:.4f}" for s, v in report["unet_loss_curve"])
    return f"""# mini-sd: a mini Stable Diffusion trained from scratch on drawn shapes

**Licence:** Apache-2.0 (weights, training code and data generator are this project's own).
**Not a stand-in and not random weights:** trained by `python -m openclosed.catalog.train_mini_sd --seed {report['seed']}
--out DIR` (the committed folder came from that command{_cut(report)}).

## What it is
A `StableDiffusionPipeline` with the real component types, small:

| part | type | parameters |
|---|---|---|
| text encoder | `CLIPTextModel`, {cfg['text_layers']} layers, width {cfg['text_width']} + `CLIPTokenizer` (BPE learnt from the caption words, {cfg['max_length']} tokens) | {par['text_encoder']:,} |
| denoiser | `UNet2DConditionModel`, channels {tuple(cfg['unet_channels'])}, cross-attention | {par['unet']:,} |
| autoencoder | `AutoencoderKL`, channels {tuple(cfg['vae_channels'])}: 32x32x3 pictures <-> 4x8x8 latents (scaling factor {report['scaling_factor']}) | {par['vae']:,} |
| scheduler | `DPMSolverMultistepScheduler` (training: DDPM, 1000 steps, scaled-linear betas) | - |

It draws 32x32 pictures. Default settings: the catalog preset's steps and guidance, chosen on validation prompts
and seeds by `python benchmarks/mini_sd_adherence.py` (section "Guidance, steps and prompt adherence" at the end,
written by that command from its results file). No safety checker (it can only draw shapes).

## Data
{report['images']:,} pictures drawn with PIL from seed {report['seed']} (`openclosed.catalog.shapes`): one flat-coloured shape
(circle, square, triangle, star) in one of six colours (red, orange, yellow, green, blue, purple), small or large,
at one of five places, on a white, black or grey background, with a caption such as "a small blue square at the top
left on a white background" (size, place and background are each left out of 30% of captions). **Held out:** the
pairs {held} are never drawn for training; every colour and every shape is seen with other partners.

## Training (this machine: {report['machine']}, 2 shared CPU cores, no GPU)
1. Autoencoder: {report['vae_steps']} steps, batch {cfg['vae_batch']}, AdamW, one-cycle learning rate up to {cfg['vae_lr']},
   L1 reconstruction + {cfg['kl_weight']:g} x KL: **{sec['autoencoder'] / 60:.1f}<!-- result helpers/openclosed/data/mini_sd/training.json seconds.autoencoder / 60 --> min**.
2. Latents cached; UNet + text encoder: {report['unet_steps']} steps, batch {cfg['unet_batch']}, AdamW, one-cycle up to
   {cfg['unet_lr']}, noise-prediction MSE, caption dropped to "" for {cfg['drop_caption']:.0%} of examples (classifier-free
   guidance): **{sec['denoiser'] / 60:.1f}<!-- result helpers/openclosed/data/mini_sd/training.json seconds.denoiser / 60 --> min**.

Total wall time including drawing the data: **{sec['total'] / 60:.1f}<!-- result helpers/openclosed/data/mini_sd/training.json seconds.total / 60 --> min** on 2 CPU cores shared with other work.

Loss curves (step: mean loss over the preceding window):
- autoencoder (L1): {vae_curve}
- denoiser (MSE): {unet_curve}

## Limits
32x32 pictures of four shapes in six colours; any other word is unknown to it. Numbers in `training.json`.
"""


def _cut(report: dict[str, Any]) -> str:
    planned = report["config"]["unet_steps"]
    if report["unet_steps"] < planned:
        return (f"; its time budget stopped the denoiser after {report['unet_steps']} of {planned} planned steps: "
                f"rerun with the same budget, or `--unet-steps {report['unet_steps']}` for that step count with "
                "a learning-rate schedule planned for it")
    return ""


def save(pipe: Any, report: dict[str, Any], out: Path) -> Path:
    """``save_pretrained`` (safetensors) + ``training.json`` (without the per-step losses)."""
    out = Path(out)
    pipe.save_pretrained(out, safe_serialization=True)
    summary = {k: v for k, v in report.items() if k not in ("vae_losses", "unet_losses")}
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(summary), encoding="utf-8")
    write_asset_info(out, {"name": "mini-sd", "random_weights": False, "seed": report["seed"],
                           "note": "trained from scratch on drawn shapes (python -m openclosed.catalog.train_mini_sd)",
                           "train_seconds": report["seconds"]["total"], "size_mb": round(folder_size_mb(out), 2)})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the mini Stable Diffusion on drawn shapes.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True, help="folder to save the pipeline in")
    ap.add_argument("--tiny", action="store_true", help="a seconds-long run on a tiny configuration (a smoke test)")
    ap.add_argument("--vae-steps", type=int)
    ap.add_argument("--unet-steps", type=int)
    ap.add_argument("--budget-min", type=float, help="stop the denoiser stage once this many minutes have passed")
    args = ap.parse_args(argv)
    cfg = TINY if args.tiny else FULL
    over = {}
    if args.vae_steps:
        over["vae_steps"] = args.vae_steps
    if args.unet_steps:
        over["unet_steps"] = args.unet_steps
    if args.budget_min:
        over["time_budget_s"] = args.budget_min * 60
    if over:
        cfg = MiniSDConfig(**{**asdict(cfg), **over})
    pipe, report = train(cfg, args.seed)
    save(pipe, report, args.out)
    print(f"saved to {args.out} after {report['seconds']['total']:.0f} s "
          f"({math.fsum(report['seconds'][k] for k in ('autoencoder', 'denoiser')):.0f} s training)")


if __name__ == "__main__":
    main()
