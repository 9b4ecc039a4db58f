"""Writes the Table-2 ablation specs of SAYO-mini from jobs/sayo-mini.yaml so that they share every hyper-parameter:
same SFT base (model.init = SAYO-mini's run output), same data and GRPO settings; only the reward weights differ.
Usage: ../.venv/bin/python tools/derive_ablations.py   (from training/)"""

from pathlib import Path

JOBS = Path(__file__).resolve().parents[1] / "jobs"
ABLATIONS = {
    "sayo-mini-ablation-accuracy": ("accuracy-only reward (+ format): no attention term", 0.0, 1.0),
    "sayo-mini-ablation-attention-accuracy": ("attention + accuracy reward (+ format)", 1.0, 1.0),
}
# The same GRPO run of SAYO-mini under another seed (rollout sampling and data order), from the same SFT base.
SEEDS = {"sayo-mini-seed2": 4321}


def derive(text: str, name: str, what: str, w_att: float, w_acc: float, seed: int | None = None) -> str:
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("# SAYO-mini: the embedded pair"):
            kind = "SAYO-mini ablation (paper Table 2)" if seed is None else "SAYO-mini, another seed"
            line = f"# {kind}: {what}. Generated from sayo-mini.yaml by tools/derive_ablations.py."
        elif s.startswith("# Run:"):
            line = (
                f"# Run after sayo-mini.yaml (it reuses that run's SFT base and data): "
                f"../.venv/bin/python -m sayo_train run jobs/{name}.yaml"
            )
        elif s.startswith("seed:") and seed is not None:
            line = line.split("seed:")[0] + f"seed: {seed}"
        elif s.startswith("name: sayo-mini"):
            line = line.replace("sayo-mini", name)
        elif s.startswith("output_dir:"):
            line = line.split("output_dir:")[0] + f"output_dir: ../runs/{name}"
        elif s.startswith("stages:"):
            line = line.split("stages:")[0] + "stages: [grpo, report]"
        elif s.startswith("init: random"):
            line = line.split("init:")[0] + "init: ../runs/sayo-mini/base           # SAYO-mini's SFT base (reused)"
        elif s.startswith("- {name: attention_region, weight:"):
            line = line.replace("weight: 1.0", f"weight: {w_att}")
        elif s.startswith("- {name: accuracy, weight:"):
            line = line.replace("weight: 0.0", f"weight: {w_acc}")
        elif (
            s.startswith("generator:")
            or s.startswith("train_size:")
            or s.startswith("heldout_size:")
            or s.startswith("min_side:")
            or s.startswith("max_side:")
            or s.startswith("gallery_size:")
            or s.startswith("describe_ratio:")
        ):
            continue  # no data stage
        elif (
            s.startswith("export:")
            or s.startswith("out_dir:")
            or s.startswith("noattn_decoder:")
            or s.startswith("opset:")
            or s.startswith("attention_layers:")
            or s.startswith("check:")
        ):
            continue  # no export: the ablations are evaluated, not shipped
        out.append(line)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    src = (JOBS / "sayo-mini.yaml").read_text()
    for name, (what, wa, wc) in ABLATIONS.items():
        (JOBS / f"{name}.yaml").write_text(derive(src, name, what, wa, wc))
        print(JOBS / f"{name}.yaml")
    for name, seed in SEEDS.items():
        (JOBS / f"{name}.yaml").write_text(derive(src, name, f"the same GRPO run under seed {seed}", 1.0, 0.0, seed))
        print(JOBS / f"{name}.yaml")
