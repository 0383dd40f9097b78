"""Video classification inference: a Python API and the ``tools/inference.py`` command line.

Python::

    from videomamba.inference import VideoClassifier
    clf = VideoClassifier("videomamba_tiny", "videomamba_t16_k400_f8_res224.pth", labels="k400_labels.txt")
    clf.predict("a.mp4", topk=5)            # {'video': 'a.mp4', 'predictions': [{'label', 'index', 'score'}...]}
    clf.predict(["a.mp4", "b.mp4"])         # a list of those
    clf.features("a.mp4")                   # (D,) pre-logit cls feature, averaged over the views
    clf.predict("long.mp4", sliding_window="60s", stride="16s")   # + per-window predictions

Command line (prints JSON)::

    python tools/inference.py a.mp4 b.mp4 --model videomamba_tiny --checkpoint ckpt.pth --labels labels.txt \
        [--num-frames 8] [--img-size 224] [--topk 5] [--num-segments 4 --num-crops 3] \
        [--sliding-window 60s --stride 16s] [--features]

Test protocol (spec §5.2, §5.4): ``num_segments`` temporal views × ``num_crops`` spatial crops per video.
Each view is decoded with :func:`videomamba.data.decoding.open_video`, its frames chosen with the data
package's sampling rule (``sparse``: the ``Kinetics_sparse`` test rule used by K400/Breakfast/COIN/LVU;
``ssv2``: the SSv2 decord test rule, 2 views), resized (short side = ``img_size``) and cropped with
:class:`videomamba.data.transforms.VideoTestTransform`. The video's class probabilities are the mean over
views of the per-view softmax, exactly as the official ``merge`` step does. Regression checkpoints (one
output, e.g. LVU) report the mean of the raw outputs as ``value``.

Sliding windows (long videos): windows of ``W`` seconds (``"60"``/``"60s"``) or frames (``"256f"``) every
``stride`` (default: ``W``, no overlap) follow the official LVU rule (:func:`videomamba.data.sampling.
lvu_windows`): a video shorter than ``W`` is one window; a last window running past the end is kept only if
at least ``W/2`` long. Each window gets the full ``S × C`` views; the video prediction averages the
per-window probabilities (every view of every window counts once, the official merge with the window index
in the view key, spec §10.3-25).

Model and checkpoint: ``model`` is a registered architecture (``videomamba_tiny``...) or a pretrained tag
(``videomamba_tiny.k400_f8_res224``: the released file is then found like ``timm.create_model(...,
pretrained=True)`` does, through ``$VIDEOMAMBA_PRETRAINED_DIR``). Frames, resolution, tubelet and class
count default to what the checkpoint holds; passing another ``num_frames``/``img_size`` adapts the
positional embeddings on load (the fine-tuning rules of spec §4.3.3).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import Iterable, Sequence

import torch

__all__ = ["InferenceError", "VideoClassifier", "parse_span", "plan_windows", "read_labels", "main"]


class InferenceError(RuntimeError):
    """A user-facing inference failure (bad checkpoint, video, labels file or argument)."""


# ------------------------------------------------------------------------------------------- helpers
def parse_span(text, name: str = "--sliding-window") -> tuple[float, str]:
    """``"60"``/``"60s"``/``60`` -> ``(60.0, 's')``; ``"256f"`` -> ``(256.0, 'f')``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), "s"
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|sec|seconds?|f|frames?)?\s*", str(text))
        if not m:
            raise InferenceError(f"{name}: expected a length like '60', '60s' (seconds) or '256f' (frames), "
                                 f"got {text!r}")
        value, unit = float(m.group(1)), (m.group(2) or "s")[0]
    if value <= 0:
        raise InferenceError(f"{name}: must be > 0, got {text!r}")
    if unit == "f" and value != int(value):
        raise InferenceError(f"{name}: a length in frames must be a whole number, got {text!r}")
    return value, unit


def plan_windows(num_frames: int, fps: float, window, stride=None) -> list[dict]:
    """Sliding windows of a ``num_frames``-frame video at ``fps``.

    Returns ``[{'index', 'start', 'end', 'unit', 'first_frame', 'last_frame'}]`` where ``start``/``end`` are in
    the window's unit (seconds or frames) and ``first_frame``/``last_frame`` the inclusive frame range used.
    """
    from .data.sampling import lvu_windows

    size, unit = parse_span(window)
    step, step_unit = parse_span(stride, "--stride") if stride is not None else (size, unit)
    if step_unit != unit:
        raise InferenceError(f"--sliding-window ({window!r}) and --stride ({stride!r}) must use the same unit")
    if num_frames < 1:
        raise InferenceError("cannot window a video without frames")
    if unit == "s":
        if not fps or fps <= 0:
            raise InferenceError("the video reports no frame rate: give the window in frames (e.g. '256f')")
        if step < 1 and step != int(step):
            raise InferenceError(f"--stride: the official window rule steps by whole seconds, got {stride!r}")
        duration = num_frames / fps
        spans = lvu_windows(duration, size, step)
    else:
        spans = lvu_windows(float(num_frames), size, step)
    out = []
    for i, (start, end) in enumerate(spans):
        if unit == "s":
            first = max(0, min(int(start * fps), num_frames - 1))
            last = max(first, min(int(end * fps), num_frames - 1))
        else:
            first = max(0, min(int(start), num_frames - 1))
            last = max(first, min(int(end) - 1, num_frames - 1))
        out.append(dict(index=i, start=float(start), end=float(end), unit=unit, first_frame=first,
                        last_frame=last))
    return out


def read_labels(path: str, num_classes: int | None = None) -> list[str]:
    """Class names: a text file (one per line, line i = class i), a JSON list, a JSON dict
    (``{name: index}`` or ``{index: name}``) or a CSV of ``index,name`` / ``name,index`` rows (header allowed)."""
    if not os.path.isfile(path):
        raise InferenceError(f"labels file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    names: list[str]
    if path.endswith(".json"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InferenceError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(obj, list):
            names = [str(x) for x in obj]
        elif isinstance(obj, dict):
            pairs = _index_pairs(obj.items(), path)
            names = _names_from_pairs(pairs, path)
        else:
            raise InferenceError(f"{path}: expected a JSON list of names or a name/index dict")
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if path.endswith(".csv") and lines and all("," in line for line in lines):
            rows = [line.split(",", 1) for line in lines]
            if not any(_is_int(a) or _is_int(b) for a, b in rows[:1]):
                rows = rows[1:]  # header
            names = _names_from_pairs(_index_pairs(rows, path), path)
        else:
            names = lines
    if not names:
        raise InferenceError(f"{path}: no class names found")
    if num_classes is not None and num_classes > 1 and len(names) != num_classes:
        raise InferenceError(f"{path}: {len(names)} class names but the model has {num_classes} classes")
    return names


def _is_int(text) -> bool:
    return isinstance(text, int) or (isinstance(text, str) and text.strip().lstrip("-").isdigit())


def _index_pairs(items: Iterable, path: str) -> list[tuple[int, str]]:
    pairs = []
    for a, b in items:
        if _is_int(a):
            pairs.append((int(a), str(b).strip().strip('"')))
        elif _is_int(b):
            pairs.append((int(b), str(a).strip().strip('"')))
        else:
            raise InferenceError(f"{path}: entry ({a!r}, {b!r}) has no integer class index")
    return pairs


def _names_from_pairs(pairs: list[tuple[int, str]], path: str) -> list[str]:
    indices = sorted(i for i, _ in pairs)
    if indices != list(range(len(pairs))):
        raise InferenceError(f"{path}: class indices must be 0..{len(pairs) - 1} without gaps or repeats")
    return [name for _, name in sorted(pairs)]


def _checkpoint_geometry(sd: dict) -> dict:
    """What a classifier state dict says about the model it came from."""
    out = {}
    w = sd.get("patch_embed.proj.weight")
    if isinstance(w, torch.Tensor) and w.dim() == 5:
        out["kernel_size"] = int(w.shape[2])
        out["patch_size"] = int(w.shape[-1])
    tpe = sd.get("temporal_pos_embedding")
    if isinstance(tpe, torch.Tensor) and tpe.dim() == 3:
        out["num_frames"] = int(tpe.shape[1]) * out.get("kernel_size", 1)
    pe = sd.get("pos_embed")
    if isinstance(pe, torch.Tensor) and pe.dim() == 3:
        side = math.isqrt(pe.shape[1] - 1)
        if side * side == pe.shape[1] - 1:
            out["img_size"] = side * out.get("patch_size", 16)
    head = sd.get("head.weight")
    out["num_classes"] = int(head.shape[0]) if isinstance(head, torch.Tensor) and head.dim() == 2 else 0
    return out


# ---------------------------------------------------------------------------------------- classifier
class VideoClassifier:
    """A VideoMamba video classifier ready for multi-view inference.

    Args:
        model_name: ``videomamba_{tiny,small,middle,base}`` or a pretrained tag (``videomamba_tiny.k400_f8_res224``);
            ``None`` for a checkpoint written by ``tools/train.py`` (its ``config`` entry names the model).
        checkpoint: a checkpoint file (flat state dict or wrapped under ``model``/``module``/``state_dict``);
            ``None`` with a pretrained tag reads the released file.
        num_frames, img_size: input clip geometry (default: the checkpoint's).
        labels: class names (a list or a file, see :func:`read_labels`); default ``class_<i>``.
        num_segments, num_crops: temporal views × spatial crops (default: the training config's test views,
            else 4 × 3, or 2 × 3 with SSv2 sampling).
        sampling: ``sparse`` | ``ssv2`` (default: ``ssv2`` for SSv2 tags or configs, else ``sparse``).
        device: default ``cuda`` when available. precision: ``fp32`` | ``bf16`` | ``fp16`` (autocast on CUDA).
        batch_size: views per forward pass. decoder: ``auto`` | ``decord`` | ``pyav`` | ``frames``.
        model_kwargs: extra keyword arguments for the model factory (e.g. ``depth``/``embed_dim`` of a custom model;
            default: the architecture overrides recorded in the checkpoint's config).

    A checkpoint written by ``tools/train.py`` (``{'model': ..., 'config': ...}``) supplies the defaults above
    from its config: model name and architecture overrides, test views, sampling and ``data.class_names``.
    """

    def __init__(self, model_name: str | None, checkpoint: str | None = None, num_frames: int | None = None,
                 img_size: int | None = None, labels=None, num_segments: int | None = None,
                 num_crops: int | None = None, sampling: str | None = None, device: str | None = None,
                 precision: str = "fp32", batch_size: int | None = None, decoder: str = "auto",
                 model_kwargs: dict | None = None):
        import timm

        import videomamba.models  # noqa: F401  (registers the factories)
        from videomamba.models import load_pretrained
        from videomamba.models.checkpoint import CheckpointError, read_checkpoint, strip_prefixes, unwrap_state_dict

        if model_name is None and checkpoint is None:
            raise InferenceError("give --model (a model name or pretrained tag) and/or --checkpoint")
        raw = None
        if model_name is None:  # training checkpoints of this framework carry their config
            raw = self._read(checkpoint, read_checkpoint, CheckpointError)
            model_name = ((raw.get("config") or {}).get("model") or {}).get("name")
            if not model_name:
                raise InferenceError(f"{checkpoint} does not record its model (no 'config' entry): pass --model")
        arch, _, tag = model_name.partition(".")
        known = timm.list_models("videomamba_*")
        video_archs = [m for m in known if not m.startswith("videomamba_image_")]
        if arch not in video_archs:
            raise InferenceError(f"--model {model_name!r}: unknown video model; expected one of "
                                 f"{', '.join(video_archs)} (optionally with a pretrained tag, see "
                                 f"timm.list_pretrained('videomamba*'))")
        if checkpoint is None:
            if not tag:
                raise InferenceError(f"--model {model_name!r} has no pretrained tag: pass --checkpoint FILE "
                                     f"or a tag such as {arch}.k400_f8_res224")
            from timm.models import get_pretrained_cfg

            from videomamba.models import resolve_pretrained_file
            cfg = get_pretrained_cfg(model_name)
            if cfg is None:
                raise InferenceError(f"--model {model_name!r}: unknown pretrained tag; see "
                                     f"timm.list_pretrained('{arch}*')")
            try:
                checkpoint = resolve_pretrained_file(cfg, arch)
            except FileNotFoundError as exc:
                raise InferenceError(str(exc)) from None
        checkpoint = os.fspath(checkpoint)
        if raw is None:
            raw = self._read(checkpoint, read_checkpoint, CheckpointError)
        # A checkpoint written by tools/train.py records its config: architecture overrides, test views,
        # sampling and class names default to it.
        run_cfg = raw.get("config") if isinstance(raw.get("config"), dict) else {}
        cfg_model, cfg_data, cfg_eval = (run_cfg.get(k) or {} for k in ("model", "data", "eval"))
        sd, _ = unwrap_state_dict(raw)
        sd, _ = strip_prefixes({k: v for k, v in sd.items() if isinstance(v, torch.Tensor)})
        if "cls_token" not in sd or "patch_embed.proj.weight" not in sd:
            raise InferenceError(f"{checkpoint}: not a VideoMamba classifier checkpoint (no cls_token / "
                                 f"patch_embed.proj.weight among its {len(sd)} tensors)")
        geo = _checkpoint_geometry(sd)
        tag_frames = re.search(r"_f(\d+)_", tag or "")
        tag_res = re.search(r"res(?:\d+to)?(\d+)$", tag or "")
        self.num_frames = int(num_frames or geo.get("num_frames") or (tag_frames and tag_frames.group(1)) or 8)
        self.img_size = int(img_size or geo.get("img_size") or (tag_res and tag_res.group(1)) or 224)
        self.num_classes = geo["num_classes"]
        kwargs = {}
        if cfg_model.get("name", "").partition(".")[0] == arch:
            kwargs.update({k: cfg_model[k] for k in ("depth", "embed_dim", "patch_size")
                           if cfg_model.get(k) is not None})
            kwargs.update(cfg_model.get("extra_kwargs") or {})
        kwargs.update(model_kwargs or {})
        kwargs.setdefault("kernel_size", geo.get("kernel_size", 1))
        kwargs.update(num_frames=self.num_frames, img_size=self.img_size, num_classes=self.num_classes,
                      drop_path_rate=0.0)
        try:
            self.model = timm.create_model(arch, pretrained=False, **kwargs)
        except (TypeError, ValueError) as exc:
            raise InferenceError(f"cannot build {arch} with {kwargs}: {exc}") from None
        try:
            self.load_report = load_pretrained(self.model, sd, strict=True)
        except CheckpointError as exc:
            raise InferenceError(f"{checkpoint} does not fit --model {arch}: {exc}") from None
        self.load_report.source = checkpoint
        self.model_name, self.checkpoint = model_name, checkpoint

        is_ssv2 = "ssv2" in (tag or "") or cfg_data.get("dataset") in ("ssv2", "ssv2_frames") or \
            (cfg_data.get("dataset") in ("custom_csv", "folder") and cfg_data.get("sampling") == "ssv2")
        self.sampling = sampling or ("ssv2" if is_ssv2 else "sparse")
        if self.sampling not in ("sparse", "ssv2"):
            raise InferenceError(f"--sampling must be 'sparse' or 'ssv2', got {self.sampling!r}")
        self.num_segments = int(num_segments or cfg_eval.get("test_num_segment") or
                                (2 if self.sampling == "ssv2" else 4))
        self.num_crops = int(num_crops or cfg_eval.get("test_num_crop") or 3)
        if self.num_segments < 1 or self.num_crops < 1:
            raise InferenceError("--num-segments and --num-crops must be >= 1")
        if labels is None:  # the data package's rule: data.class_names, else <data root>/classes.txt
            root = cfg_data.get("prefix") or cfg_data.get("data_root") or ""
            for candidate in (cfg_data.get("class_names"), root and os.path.join(root, "classes.txt")):
                if candidate and os.path.isfile(candidate):
                    labels = candidate
                    break
        if isinstance(labels, (str, os.PathLike)):
            labels = read_labels(os.fspath(labels), self.num_classes)
        elif labels is not None:
            labels = [str(x) for x in labels]
            if self.num_classes > 1 and len(labels) != self.num_classes:
                raise InferenceError(f"{len(labels)} labels given but the model has {self.num_classes} classes")
        self.labels = labels
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if precision not in ("fp32", "bf16", "fp16"):
            raise InferenceError(f"--precision must be fp32, bf16 or fp16, got {precision!r}")
        self.precision = precision
        self.batch_size = int(batch_size or self.num_segments * self.num_crops)
        self.decoder = decoder
        self.model.to(self.device).eval()

        from .data.transforms import VideoTestTransform
        self.transform = VideoTestTransform(short_side_size=self.img_size, num_crops=self.num_crops)

    @staticmethod
    def _read(checkpoint, read_checkpoint, error_cls) -> dict:
        try:
            return read_checkpoint(os.fspath(checkpoint))
        except FileNotFoundError:
            raise InferenceError(f"checkpoint file not found: {checkpoint}") from None
        except error_cls as exc:
            raise InferenceError(str(exc)) from None

    # --- decoding and views -------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return "regression" if self.num_classes == 1 else "classification"

    def _open(self, path):
        from .data.decoding import VideoDecodeError, open_video
        path = os.fspath(path)
        if not os.path.exists(path):
            raise InferenceError(f"video not found: {path}")
        try:
            return open_video(path, backend=self.decoder)
        except VideoDecodeError as exc:
            raise InferenceError(str(exc)) from None

    def _view_indices(self, vlen: int, first: int, last: int, view: int) -> list[int]:
        from .data import sampling
        if self.sampling == "ssv2":
            idx = sampling.ssv2_indices(last - first + 1, self.num_frames, "test", view, self.num_segments)
            return [first + i for i in idx]
        return sampling.window_sparse_indices(first, last, self.num_frames, "test", view, self.num_segments)

    def _clips(self, reader, first: int, last: int) -> torch.Tensor:
        """All S × C views of frames ``[first, last]`` as (S·C, 3, T, H, W), ordered view-major."""
        from .data.decoding import VideoDecodeError
        clips = []
        for view in range(self.num_segments):
            indices = self._view_indices(reader.num_frames, first, last, view)
            try:
                frames = reader.get_frames(indices)
            except VideoDecodeError as exc:
                raise InferenceError(str(exc)) from None
            for crop in range(self.num_crops):
                clips.append(self.transform(frames, crop))
        return torch.stack(clips)

    @torch.no_grad()
    def _run(self, clips: torch.Tensor, features: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, 3, T, H, W) -> per-view outputs (N, K) fp32 and, if asked, pre-logit features (N, D)."""
        outs, feats = [], []
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        for chunk in clips.split(self.batch_size):
            chunk = chunk.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
                tokens = self.model.forward_features(chunk)
                pre = self.model.forward_head(tokens, pre_logits=True)
                out = self.model.head(pre) if self.num_classes > 0 else pre
            outs.append(out.float().cpu())
            if features:
                feats.append(pre.float().cpu())
        return torch.cat(outs), (torch.cat(feats) if features else None)

    def _aggregate(self, outputs: torch.Tensor) -> torch.Tensor:
        """Per-view outputs -> one vector: mean softmax (classification) or mean value (regression)."""
        if self.task == "regression":
            return outputs.mean(0)
        return outputs.softmax(-1).mean(0)

    def _format(self, scores: torch.Tensor, topk: int) -> dict:
        if self.task == "regression":
            return {"value": float(scores[0])}
        k = max(1, min(int(topk), self.num_classes))
        values, indices = scores.topk(k)
        return {"predictions": [{"label": self.labels[i] if self.labels else f"class_{i}", "index": int(i),
                                 "score": float(v)} for v, i in zip(values.tolist(), indices.tolist())]}

    # --- public API ---------------------------------------------------------------------------------
    def predict_proba(self, path, sliding_window=None, stride=None) -> torch.Tensor:
        """Class probabilities (K,) of one video (view-averaged softmax; windows averaged)."""
        return self._predict_one(path, 1, sliding_window, stride, raw=True)

    def predict(self, path_or_paths, topk: int = 5, sliding_window=None, stride=None, features: bool = False):
        """Top-``topk`` predictions of one video (a dict) or of several (a list of dicts).

        Each dict: ``video``, ``num_frames`` (decodable frames), ``fps``, ``num_views``, ``predictions``
        (``[{'label', 'index', 'score'}]``, scores in descending order) — ``value`` instead for regression —
        and with ``sliding_window`` a ``windows`` list (``index``, ``start``, ``end``, ``unit``,
        ``first_frame``, ``last_frame``, ``predictions``); with ``features=True`` a ``features`` list (the
        view-averaged pre-logit cls feature, per window too).
        """
        if self.num_classes == 0:
            raise InferenceError(f"{self.checkpoint} has no classifier head (a pretraining checkpoint?): only "
                                 f"features can be extracted")
        if isinstance(path_or_paths, (str, os.PathLike)):
            return self._predict_one(path_or_paths, topk, sliding_window, stride, features=features)
        return [self._predict_one(p, topk, sliding_window, stride, features=features) for p in path_or_paths]

    def features(self, path, reduce: str | None = "mean", sliding_window=None, stride=None) -> torch.Tensor:
        """Pre-logit (cls-token, final-norm) features of one video: (D,) averaged over every view
        (``reduce='mean'``), or (views, D) with ``reduce=None``; with ``sliding_window`` (windows, D)
        averaged per window, or (windows, views, D)."""
        if reduce not in ("mean", None):
            raise InferenceError(f"reduce must be 'mean' or None, got {reduce!r}")
        reader = self._open(path)
        try:
            spans = self._spans(reader, sliding_window, stride)
            per_window = []
            for span in spans:
                _, feats = self._run(self._clips(reader, span["first_frame"], span["last_frame"]), features=True)
                per_window.append(feats.mean(0) if reduce == "mean" else feats)
        finally:
            reader.close()
        if sliding_window is None:
            return per_window[0]
        return torch.stack(per_window)

    def _spans(self, reader, sliding_window, stride) -> list[dict]:
        if sliding_window is None:
            if stride is not None:
                raise InferenceError("--stride needs --sliding-window")
            return [dict(index=0, first_frame=0, last_frame=reader.num_frames - 1)]
        return plan_windows(reader.num_frames, reader.fps, sliding_window, stride)

    def _predict_one(self, path, topk, sliding_window, stride, features: bool = False, raw: bool = False):
        reader = self._open(path)
        try:
            spans = self._spans(reader, sliding_window, stride)
            window_scores, window_feats = [], []
            for span in spans:
                outputs, feats = self._run(self._clips(reader, span["first_frame"], span["last_frame"]),
                                           features=features)
                window_scores.append(self._aggregate(outputs))
                window_feats.append(feats.mean(0) if features else None)
            num_frames, fps = reader.num_frames, float(reader.fps or 0.0)
        finally:
            reader.close()
        scores = torch.stack(window_scores).mean(0)
        if raw:
            return scores
        result = {"video": os.fspath(path), "num_frames": num_frames, "fps": round(fps, 6),
                  "num_views": self.num_segments * self.num_crops * len(spans), **self._format(scores, topk)}
        if features:
            result["features"] = torch.stack(window_feats).mean(0).tolist()
        if sliding_window is not None:
            result["windows"] = []
            for span, s, f in zip(spans, window_scores, window_feats):
                entry = {**span, **self._format(s, topk)}
                if features:
                    entry["features"] = f.tolist()
                result["windows"].append(entry)
        return result

    def describe(self) -> dict:
        return {"model": self.model_name, "checkpoint": self.checkpoint, "num_frames": self.num_frames,
                "img_size": self.img_size, "num_classes": self.num_classes, "task": self.task,
                "sampling": self.sampling, "num_segments": self.num_segments, "num_crops": self.num_crops}


# ------------------------------------------------------------------------------------------------ CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tools/inference.py",
        description="Classify videos with a VideoMamba checkpoint; prints JSON (top-k labels and view-averaged "
                    "softmax scores per video).")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (or frame folders)")
    p.add_argument("--model", default=None,
                   help="videomamba_{tiny,small,middle,base} or a pretrained tag (videomamba_tiny.k400_f8_res224); "
                        "optional for checkpoints written by tools/train.py (they record their config)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the tag's released file)")
    p.add_argument("--num-frames", type=int, default=None, help="frames per view (default: the checkpoint's)")
    p.add_argument("--img-size", type=int, default=None, help="input resolution (default: the checkpoint's)")
    p.add_argument("--labels", default=None, help="class names: .txt (one per line), .json or .csv")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--num-segments", type=int, default=None,
                   help="temporal views (default: the training config's, else 4; 2 with --sampling ssv2)")
    p.add_argument("--num-crops", type=int, default=None, help="spatial crops (default: the config's, else 3)")
    p.add_argument("--sampling", choices=("sparse", "ssv2"), default=None,
                   help="frame sampling rule (default: ssv2 for SSv2 tags, else sparse)")
    p.add_argument("--sliding-window", default=None, metavar="LEN",
                   help="window length for long videos: seconds ('60', '60s') or frames ('256f')")
    p.add_argument("--stride", default=None, metavar="LEN", help="window stride, same unit (default: the window)")
    p.add_argument("--features", action="store_true", help="also output the pre-logit features")
    p.add_argument("--device", default=None, help="cuda | cpu (default: cuda if available)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--batch-size", type=int, default=None, help="views per forward pass (default: S x C)")
    p.add_argument("--decoder", choices=("auto", "decord", "pyav", "frames"), default="auto")
    p.add_argument("--model-kwargs", default=None, metavar="JSON",
                   help='extra model-factory arguments, e.g. \'{"depth": 12}\' for a custom architecture')
    p.add_argument("--output", default=None, help="write the JSON here instead of stdout")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point. Exit status: 0 ok, 1 some video failed (its entry has ``error``), 2 bad arguments,
    missing files or an unusable checkpoint (message on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        if args.topk < 1:
            raise InferenceError(f"--topk must be >= 1, got {args.topk}")
        missing = [v for v in args.videos if not os.path.exists(v)]
        if missing:
            raise InferenceError("video(s) not found: " + ", ".join(missing))
        if args.sliding_window is not None:
            parse_span(args.sliding_window)
        if args.stride is not None:
            if args.sliding_window is None:
                raise InferenceError("--stride needs --sliding-window")
            parse_span(args.stride, "--stride")
        try:
            model_kwargs = json.loads(args.model_kwargs) if args.model_kwargs else None
        except json.JSONDecodeError as exc:
            raise InferenceError(f"--model-kwargs: not valid JSON ({exc})") from None
        clf = VideoClassifier(args.model, args.checkpoint, num_frames=args.num_frames, img_size=args.img_size,
                              labels=args.labels, num_segments=args.num_segments, num_crops=args.num_crops,
                              sampling=args.sampling, device=args.device, precision=args.precision,
                              batch_size=args.batch_size, decoder=args.decoder, model_kwargs=model_kwargs)
    except InferenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    results, failed = [], 0
    for video in args.videos:
        try:
            if clf.num_classes == 0:
                if not args.features:
                    raise InferenceError(f"{clf.checkpoint} has no classifier head: use --features")
                feats = clf.features(video, sliding_window=args.sliding_window, stride=args.stride)
                results.append({"video": video, "features": feats.tolist()})
            else:
                results.append(clf.predict(video, topk=args.topk, sliding_window=args.sliding_window,
                                           stride=args.stride, features=args.features))
        except InferenceError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"video": video, "error": str(exc)})
    text = json.dumps({**clf.describe(), "results": results}, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
