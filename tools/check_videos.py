#!/usr/bin/env python
"""Decode every video of an annotation file through the real decoding + sampling code.

    python tools/check_videos.py ANNOTATION --prefix ROOT [--split ,] [--format path_label]
                                 [--workers N] [--num-frames 16] [--decoder auto] --out bad.tsv

For each video: open it, check it has at least ``--min-frames`` frames, then decode the sparse validation
clip of ``--num-frames`` frames plus the first and the last frame. Writes one line per bad video to
``--out`` (``path<TAB>reason``, the path as written in the annotation) and exits 1 if any video is bad,
0 otherwise (2 for unusable arguments/annotation).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videomamba.data.annotations import FORMATS, AnnotationError, read_video_annotations  # noqa: E402
from videomamba.data.decoding import FrameFolderReader, VideoDecodeError, open_video  # noqa: E402
from videomamba.data.sampling import sparse_indices  # noqa: E402


def check_one(job):
    """(path as written, full path, num_frames, min_frames, decoder) -> (path, reason or None)."""
    path, full_path, num_frames, min_frames, decoder = job
    try:
        reader = FrameFolderReader(full_path) if decoder == "frames" else open_video(full_path, decoder)
        with reader:
            n = reader.num_frames
            if n < min_frames:
                return path, f"too short: {n} frames < {min_frames}"
            indices = sorted(set(sparse_indices(n, num_frames, "val")) | {0, n - 1})
            frames = reader.get_frames(indices)
            if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
                return path, f"unexpected frame array shape {frames.shape}"
    except VideoDecodeError as exc:
        return path, exc.reason
    except Exception as exc:  # anything else is a bad video too, but say what happened
        return path, f"{type(exc).__name__}: {exc}"
    return path, None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("annotation", help="annotation file (csv / list)")
    parser.add_argument("--prefix", default="", help="root joined in front of every path")
    parser.add_argument("--split", default=",", help="column separator (' ' = whitespace) [,]")
    parser.add_argument("--format", default="path_label", choices=sorted(FORMATS),
                        help="annotation columns [path_label]")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)))
    parser.add_argument("--num-frames", type=int, default=16, help="clip length to decode [16]")
    parser.add_argument("--min-frames", type=int, default=1, help="fewer frames = bad [1]")
    parser.add_argument("--decoder", default="auto", choices=["auto", "decord", "pyav", "frames"])
    parser.add_argument("--out", required=True, help="output file: one 'path<TAB>reason' line per bad video")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    try:
        records = read_video_annotations(args.annotation, args.prefix, args.split, args.format)
    except AnnotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jobs = [(r.path, r.full_path, args.num_frames, args.min_frames, args.decoder) for r in records]
    from tqdm import tqdm

    bad = []
    progress = tqdm(total=len(jobs), desc="checking videos", unit="video", disable=args.no_progress)
    if args.workers > 1:
        # fork (POSIX): no re-import in the workers; safe because this process opened no decoder yet
        context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with context.Pool(args.workers) as pool:
            for path, reason in pool.imap(check_one, jobs, chunksize=4):
                progress.update()
                if reason:
                    bad.append((path, reason))
    else:
        for job in jobs:
            path, reason = check_one(job)
            progress.update()
            if reason:
                bad.append((path, reason))
    progress.close()
    with open(args.out, "w", encoding="utf-8") as f:
        for path, reason in bad:
            f.write(f"{path}\t{reason}\n")
    print(f"{len(jobs)} videos checked, {len(bad)} bad" + (f" (listed in {args.out})" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
