"""Image preprocessing equal to transformers.js's Qwen2VLImageProcessor (smart_resize with JS rounding, rescale,
normalise, temporal tiling, the (t, h/m, w/m, m, m, C, T, P, P) patch order) and the prompt ids of models/CONTRACT.md."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .geometry import Grid, make_grid
from .tokenizer import SYSTEM_PROMPT, Tokenizer, render_prompt

IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]


class Processor:
    def __init__(self, patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=3136, max_pixels=112896):
        self.patch_size = patch_size
        self.merge_size = merge_size
        self.temporal_patch_size = temporal_patch_size
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels

    def config(self) -> dict:
        return {
            "processor_class": "Qwen2VLProcessor",
            "image_processor_type": "Qwen2VLImageProcessor",
            "do_convert_rgb": True,
            "do_resize": True,
            "resample": 3,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": IMAGE_MEAN,
            "image_std": IMAGE_STD,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "size": {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels},
            "patch_size": self.patch_size,
            "merge_size": self.merge_size,
            "temporal_patch_size": self.temporal_patch_size,
        }

    def grid(self, width: int, height: int) -> Grid:
        return make_grid(width, height, self.patch_size, self.merge_size, self.min_pixels, self.max_pixels)

    def __call__(self, image: Image.Image):
        """→ (pixel_values float32 [N, 3·T·P·P], grid_thw [1, h, w], Grid)."""
        image = image.convert("RGB")
        g = self.grid(image.width, image.height)
        if (g.resized_width, g.resized_height) != image.size:
            image = image.resize((g.resized_width, g.resized_height), Image.BICUBIC)
        x = np.asarray(image, dtype=np.float32) / 255.0
        x = (x - np.array(IMAGE_MEAN, dtype=np.float32)) / np.array(IMAGE_STD, dtype=np.float32)
        x = x.transpose(2, 0, 1)[None]  # 1, C, H, W
        T, P, m = self.temporal_patch_size, self.patch_size, self.merge_size
        x = np.concatenate([x] * T, axis=0)  # T, C, H, W
        C = 3
        gh, gw = g.resized_height // P, g.resized_width // P
        x = x.reshape(1, T, C, gh // m, m, P, gw // m, m, P)
        x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(gh * gw, C * T * P * P)
        return torch.from_numpy(np.ascontiguousarray(x)), [1, gh, gw], g


def prompt_ids(tok: Tokenizer, question: str, grid: Grid, system: str | None = SYSTEM_PROMPT) -> list[int]:
    """Chat-template prompt with <|image_pad|> expanded to rows·cols copies, tokenised (`system` as render_prompt)."""
    text = render_prompt(question, system=system).replace("<|image_pad|>", "<|image_pad|>" * grid.n_tokens)
    return tok.encode(text)
