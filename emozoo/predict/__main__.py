"""``python -m emozoo.predict --model NAME FILE... [--json] [--window S --hop S --plot PNG]``.

Prints one row per input (per turn of a conversation file, per row of a feature ``.npz``, per
window of a long recording with ``--window``): the prediction and the class probabilities.

An input that carries nothing to classify (too short, silent, a DC offset, no voiced speech,
no face, an image under the model's input size, a file that is not text) or that cannot be
read gives a row with no prediction that says why ("refused: ..."; in ``--json`` the fields
``prediction``/``probabilities`` are null and ``refused`` holds the reason). Exit status: 0 when at least one input was predicted, 2 when every input was
refused (the reasons are then repeated on stderr) or the command itself is wrong.

Long recordings: ``--window 3 --hop 1.5`` predicts 3 s windows every 1.5 s (start, end,
prediction, probabilities), decoding the file block by block, so memory does not grow with
its length; ``--plot timeline.png`` draws the emotion timeline; ``--json`` streams one JSON
object per row as it is computed. Audio files over 60 s are refused without ``--window``.

Examples::

    python -m emozoo.predict --list
    python -m emozoo.predict --model baseline_emodb_is10 03a01Fa.flac
    python -m emozoo.predict --model ssgan_speech call.wav --window 3 --hop 1.5 --plot timeline.png
    python -m emozoo.predict --model face_cnn_fer2013 --no-face full crop48.png
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m emozoo.predict", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=False, help="zoo model name (see --list)")
    ap.add_argument("files", nargs="*", help="inputs of the model's kind: audio files (wav, flac, ...), face images, "
                    "feature .npz files, or conversation files (.json, .jsonl, 'SPEAKER: text' lines)")
    ap.add_argument("--zoo-dir", help="zoo folder (default saved_models/ or $EMOZOO_ZOO_DIR)")
    ap.add_argument("--json", action="store_true", help="one JSON object per row (streamed) instead of a table")
    ap.add_argument("--list", action="store_true", help="list zoo models and exit")
    ap.add_argument("--window", type=float, help="speech models: predict windows of this many seconds "
                    "(long recordings; memory does not grow with the length)")
    ap.add_argument("--hop", type=float, help="seconds between window starts (default: half the window)")
    ap.add_argument("--plot", metavar="PNG", help="with --window: draw the emotion timeline into this PNG "
                    "(one file; matplotlib)")
    ap.add_argument("--no-face", choices=("skip", "full"), default="skip",
                    help="face models, when no face is found: 'skip' (default) gives a row 'no face found' and "
                         "no prediction; 'full' classifies the whole image (for images that are face crops)")
    ap.add_argument("--adapt", metavar="DIR|batch", help="models with adapt() (emotion_speech): fit the "
                    "normalisation on the unlabelled audio files of DIR, or on the FILEs predicted ('batch'), first")
    return ap


class _Rows:
    """Writes rows as they come (table or JSON lines) and counts predicted / refused ones."""

    def __init__(self, labels, as_json: bool, width: int):
        self.labels, self.as_json, self.width = list(labels), as_json, width
        self.predicted = self.refused = 0
        self.reasons = []
        if not as_json:
            print(f"{'input':<{width}}  {'prediction':<10}  " + "  ".join(f"{k:>8}" for k in self.labels), flush=True)

    def write(self, file, name, extra, probs=None, refused=None):
        if refused is None:
            self.predicted += 1
            pred = self.labels[int(max(range(len(probs)), key=lambda i: probs[i]))]
        else:
            self.refused += 1
            refused = _reason(refused, file)
            self.reasons.append(f"{name}: {refused}")
        if self.as_json:
            print(json.dumps({"file": file, **extra,
                              "prediction": None if refused else pred,
                              "probabilities": None if refused else
                              {k: round(float(v), 4) for k, v in zip(self.labels, probs)},
                              **({"refused": refused} if refused else {})}), flush=True)
        elif refused:
            print(f"{name:<{self.width}}  refused: {refused}", flush=True)
        else:
            print(f"{name:<{self.width}}  {pred:<10}  " + "  ".join(f"{float(v):8.4f}" for v in probs), flush=True)


def _reason(message: str, file: str) -> str:
    """The refusal without the file name the row already shows."""
    return message[len(file) + 2:] if message.startswith(f"{file}: ") else message


def _predict(args, model, out: _Rows) -> None:
    from emozoo.errors import EmozooError

    if args.window is not None:
        from emozoo.zoo.windows import plot_timeline, predict_windows
        hop = args.hop if args.hop is not None else args.window / 2
        for f in args.files:
            rows = []
            try:
                for r in predict_windows(model, f, args.window, hop):
                    name = f"{f} {r['start']:.1f}-{r['end']:.1f}s"
                    extra = {"start": r["start"], "end": r["end"]}
                    if r["refused"]:
                        out.write(f, name, extra, refused=r["refused"])
                    else:
                        out.write(f, name, extra, probs=[r["probabilities"][k] for k in model.labels])
                    if args.plot:
                        rows.append({k: v for k, v in r.items()})
            except EmozooError as exc:
                out.write(f, f, {}, refused=str(exc) if str(exc).startswith(f) else f"{f}: {exc}")
            if args.plot and rows:
                plot_timeline(rows, model.labels, args.plot, title=f"{f} ({model.card.get('name')}, "
                              f"{args.window:g} s windows every {hop:g} s)")
                print(f"timeline written to {args.plot}", file=sys.stderr, flush=True)
        return
    for f in args.files:
        try:
            if hasattr(model, "read_conversation"):
                # a conversation model: every FILE is one conversation (json / jsonl / "SPEAKER: text" lines)
                turns = model.read_conversation(f)
                for i, (t, p) in enumerate(zip(turns, model.predict(turns))):
                    out.write(f, f"{f}:{i + 1} {t['speaker']}".rstrip(),
                              {"turn": i + 1, "speaker": t["speaker"], "text": t["text"]}, probs=p)
                continue
            probs = model.predict([f])
        except EmozooError as exc:
            out.write(f, f, {}, refused=str(exc) if str(exc).startswith(f) else f"{f}: {exc}")
            continue
        if len(probs) == 1 and not f.endswith(".npz"):
            out.write(f, f, {}, probs=probs[0])
        else:                     # files holding examples in rows (feature .npz files)
            for i, p in enumerate(probs):
                out.write(f, f"{f}[{i}]", {"row": i}, probs=p)


def main(argv=None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)

    import emozoo
    from emozoo.errors import EmozooError

    try:
        if args.list:
            for m in emozoo.list_models(args.zoo_dir):
                print(f"{m['name']}: {m['description']}")
            return 0
        if not args.model or not args.files:
            ap.error("give --model NAME and at least one FILE (or --list)")
        if args.plot and args.window is None:
            ap.error("--plot draws the timeline of --window rows: add --window SECONDS")
        if args.plot and len(args.files) != 1:
            ap.error("--plot draws one recording's timeline: give one FILE")
        if args.window is not None and (args.window <= 0 or (args.hop is not None and args.hop <= 0)):
            ap.error("--window and --hop must be > 0 seconds")
        model = emozoo.load(args.model, args.zoo_dir)
        if hasattr(model, "no_face"):
            model.no_face = args.no_face
        if args.adapt:
            if not hasattr(model, "adapt"):
                ap.error(f"--adapt: {args.model} has no adaptation (emotion_speech has)")
            n = model.adapt(list(args.files) if args.adapt == "batch" else args.adapt)
            print(f"normalisation adapted on {n} clips ({args.adapt})", file=sys.stderr, flush=True)
        if args.window is not None and not hasattr(model, "predict_waveform"):
            ap.error(f"--window is for speech models; {args.model} does not take audio")
        width = max(len(f) for f in args.files) + (14 if args.window is not None else 6)
        out = _Rows(model.labels, args.json, width)
        _predict(args, model, out)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if out.predicted == 0:
        print(f"error: every input was refused, nothing was predicted:\n  " + "\n  ".join(out.reasons),
              file=sys.stderr)
        return 2
    return 0


def _run() -> int:
    from emozoo.utils import run_cli
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(_run())
