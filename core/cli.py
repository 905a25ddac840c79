"""The headless command line: ``python main.py COMMAND`` (train, resume, continue, evaluate, predict, export, ...).

A thin face on core/, like the GUI: it parses arguments, runs the job with a terminal reporter
(a progress bar when the output is a terminal, one line per epoch always) and prints one result
line. Errors a person can fix are printed as one sentence with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from core import __version__
from core.errors import WorkbenchError
from core.logs import setup_logging
from core.reporting import CancelToken, NullReporter, format_duration, format_epoch_line


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class TerminalReporter(NullReporter):
    """A progress bar on stderr (only on a terminal) and one line per epoch on stdout."""

    def __init__(self, stream=None, err=None, width: int = 28) -> None:
        self.out = stream or sys.stdout
        self.err = err or sys.stderr
        self.tty = hasattr(self.err, "isatty") and self.err.isatty()
        self.width = width
        self.epochs = 1
        self.started = time.perf_counter()
        self._last_draw = 0.0

    def on_start(self, info: dict) -> None:
        self.epochs = int(info.get("epochs", 1))
        self.started = time.perf_counter()

    def _bar(self, fraction: float, text: str) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and fraction < 1:
            return
        self._last_draw = now
        filled = int(self.width * fraction)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled - 1)
        self.err.write(f"\r[{bar[: self.width]}] {fraction * 100:5.1f}% {text}\033[K")
        self.err.flush()

    def _clear(self) -> None:
        if self.tty:
            self.err.write("\r\033[K")
            self.err.flush()

    def on_batch(self, epoch: int, step: int, steps: int, logs: dict[str, float]) -> None:
        done = (epoch + (step + 1) / steps) / self.epochs
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done - elapsed if done > 0 else 0
        acc = logs.get("accuracy")
        metrics = f"loss {logs.get('loss', float('nan')):.4f}" + (f" acc {acc:.4f}" if acc is not None else "")
        self._bar(done, f"epoch {epoch + 1}/{self.epochs} {metrics} ETA {format_duration(eta)}")

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self._clear()
        print(format_epoch_line(epoch + 1, self.epochs, logs), file=self.out, flush=True)

    def on_message(self, text: str) -> None:
        self._clear()
        print(text, file=self.err, flush=True)

    def on_progress(self, done: int, total: int, what: str) -> None:
        if total:
            self._bar(done / total, f"{what} {done}/{total}")
            if done >= total:
                self._clear()


# --------------------------------------------------------------------------------------------
# Commands


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        parts = [int(p) for p in text.lower().replace(",", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) == 2:
        parts.append(1)
    if len(parts) != 3 or min(parts) < 1 or parts[2] not in (1, 3):
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 28x28x1 or 32x32x3")
    return tuple(parts)  # type: ignore[return-value]


def _parse_option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    key, raw = text.split("=", 1)
    value: object = raw
    for cast in (int, float):
        try:
            value = cast(raw)
            break
        except ValueError:
            continue
    if raw.lower() in ("true", "false", "on", "off", "yes", "no"):
        value = raw.lower() in ("true", "on", "yes")
    return key.strip(), value


def cmd_train(args: argparse.Namespace) -> int:
    from core.config import TrainConfig
    from core.training import train

    config = TrainConfig(
        dataset=args.dataset,
        model=args.model,
        model_options=dict(args.option or []),
        pretrained=args.pretrained,
        image_size=args.image_size,
        color_mode=args.color_mode,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        momentum=args.momentum,
        schedule=args.schedule,
        step_epochs=args.step_epochs,
        step_factor=args.step_factor,
        batch_size=args.batch_size,
        epochs=getattr(args, "epochs", TrainConfig.epochs),
        validation_split=args.validation_split,
        test_split=args.test_split,
        augment_flip=args.flip,
        augment_rotation=args.rotation,
        augment_zoom=args.zoom,
        augment_translation=args.translation,
        early_stopping=args.early_stopping is not None,
        # The patience given, even 0 or -3 (TrainConfig.validate says why not), never silently 5.
        patience=TrainConfig.patience if args.early_stopping is None else args.early_stopping,
        seed=args.seed,
        limit=args.limit,
        tensorboard=not args.no_tensorboard,
        center_loss_weight=args.center_loss,
        precision=args.precision,
        devices=args.devices,
        name=args.name or "",
        **_recipe_and_budget(args),
    )
    if args.save_model:
        _save_model_target(args.save_model)  # a bad path is said now, not after the training
    command = "python main.py " + " ".join(shlex.quote(a) for a in args.argv)
    return _train_and_report(
        lambda reporter, cancel: train(config, reporter, cancel, command=command), save_model=args.save_model
    )


def _train_and_report(job, save_model: str | None = None) -> int:
    """Run a training job (train, resume, continue) with the terminal's progress and closing line."""
    try:
        result = job(TerminalReporter(), CancelToken())
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted: resume with python main.py resume RUN", file=sys.stderr)
        return 130
    if save_model:
        target = _copy_model(result.model_path, Path(save_model))
        print(f"model and card copied to {target} and {target.with_suffix('.json')}", file=sys.stderr)
    print(result.summary_line(), flush=True)
    return 0


def _recipe_and_budget(args: argparse.Namespace) -> dict:
    """``--recipe`` (auto with ``--model auto``, else manual: a zoo model alone trains its classic
    recipe) and ``--time-budget`` (2 min for the auto recipe unless ``--epochs`` is given)."""
    from core import auto
    from core.values import parse_duration

    recipe = getattr(args, "recipe", None) or (auto.AUTO if args.model == auto.AUTO else "manual")
    given, epochs = getattr(args, "time_budget", None), getattr(args, "epochs", None)
    if given is not None and epochs is not None:
        raise WorkbenchError("Give either --epochs or --time-budget, not both: a time budget replaces epochs.")
    budget = None
    if given is not None:
        try:
            budget = parse_duration(given)
        except ValueError as exc:
            raise WorkbenchError(f"--time-budget must be {exc}; got {given!r}.") from None
    elif recipe == auto.AUTO and epochs is None:
        budget = auto.DEFAULT_TIME_BUDGET
    return {"recipe": recipe, "time_budget": budget}


def cmd_resume(args: argparse.Namespace) -> int:
    """Go on with an interrupted or stopped run from its backup (its last whole epoch)."""
    from core import runs
    from core.training import resume_run

    run_dir = runs.resolve_run(args.run)
    info = runs.read_run(run_dir)
    if info.state == "finished":
        raise WorkbenchError(
            f"Run {info.name} has finished; to train it for more epochs use: "
            f"python main.py continue {args.run} --epochs N"
        )
    return _train_and_report(lambda reporter, cancel: resume_run(run_dir, reporter, cancel))


def cmd_continue(args: argparse.Namespace) -> int:
    """Train a run (finished or not) for more epochs, in the same folder."""
    from core import runs
    from core.training import resume_run

    if args.epochs < 1:
        raise WorkbenchError(f"--epochs must be at least 1 (more epochs to train), not {args.epochs}.")
    run_dir = runs.resolve_run(args.run)
    return _train_and_report(lambda reporter, cancel: resume_run(run_dir, reporter, cancel, extra_epochs=args.epochs))


def _save_model_target(given: str, file_name: str = "model.keras") -> Path:
    """Where ``--save-model`` will put the model, checked before any training starts.

    ``given`` is a ``.keras`` file name or an existing folder (the model keeps ``file_name`` there).
    """
    target = Path(given).expanduser()
    if target.is_dir():
        target = target / file_name
    elif not target.suffix:
        raise WorkbenchError(
            f"--save-model: there is no folder {target}; give an existing folder or a .keras file name."
        )
    if target.suffix != ".keras":
        raise WorkbenchError(
            f"--save-model needs a .keras file name or a folder, not {given} (Keras model files end in .keras)."
        )
    if not target.parent.is_dir():
        raise WorkbenchError(
            f"--save-model: the folder {target.parent} does not exist; create it first or choose another."
        )
    from core import writable

    writable.check_folder(target.parent, "--save-model", "choose another folder")
    if target.is_dir():
        raise WorkbenchError(f"--save-model: {target} is a folder, not a file name.")
    return target


def _copy_model(source: Path, target: Path) -> Path:
    """Copy a model and its card (atomically each) to ``target`` (a .keras path or a folder)."""
    from core import atomic, cards, writable

    target = _save_model_target(str(target), source.name)
    try:
        atomic.write_bytes(target, source.read_bytes())
        card = cards.read_card(source)
        if card is not None:
            cards.write_card(target, card)
    except OSError as exc:  # the disk filled or the folder changed during the training
        keep = f"the run keeps its model in {source}: copy it from there"
        raise writable.cannot_write(target.parent, exc, "--save-model", keep) from exc
    return target


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core import runs
    from core.evaluation import evaluate_run

    run_dir = runs.resolve_run(args.run)
    ev = evaluate_run(run_dir, reporter=TerminalReporter())
    if args.report:
        print(_report_table(ev.report, ev.class_names))
    print(f"test accuracy {ev.accuracy:.4f} (loss {ev.loss:.3f}) on {len(ev.y_true)} images, saved in {run_dir}")
    return 0


def _report_table(report: dict, class_names: list[str]) -> str:
    lines = [f"{'':>24} precision    recall  f1-score   support"]
    for name in [*class_names, "macro avg", "weighted avg"]:
        r = report.get(name)
        if r:
            lines.append(
                f"{name[:24]:>24} {r['precision']:9.4f} {r['recall']:9.4f} {r['f1-score']:9.4f} {int(r['support']):9d}"
            )
    lines.append(f"{'accuracy':>24} {report.get('accuracy', float('nan')):9.4f}")
    return "\n".join(lines)


def cmd_predict(args: argparse.Namespace) -> int:
    from core.ensemble import predict_files
    from core.inference import expand_paths, load_model

    if args.top < 1:
        raise WorkbenchError(f"--top must be at least 1 (how many classes to show per image), not {args.top}.")
    loaded = load_model(args.model)
    if loaded.card_error:
        print(f"warning: {loaded.card_error} Classes are shown as numbers.", file=sys.stderr, flush=True)
    files = expand_paths(args.images)
    if not files:
        raise WorkbenchError("No images found in what was given (folders are searched for image files).")
    failures = 0
    for res in predict_files(loaded, files, k=args.top):
        if res.error:
            failures += 1
            print(f"{res.path}: cannot predict: {res.error}")
            continue
        best, p = res.top[0]
        rest = ", ".join(f"{n} {q:.3f}" for n, q in res.top[1:])
        print(f"{res.path}: {best} ({p:.3f})" + (f"  [{rest}]" if rest else ""))
        for note in res.notes:  # an animation's first frame, transparency filled
            print(f"    note: {note}")
    return 1 if failures == len(files) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from core import runs
    from core.export import default_suffix, export_model

    source = Path(args.source).expanduser()
    if source.suffix.lower() in (".h5", ".hdf5"):
        raise WorkbenchError(
            f"{source.name} is a legacy Keras .h5 file; export takes a run (see 'runs') or a .keras model file."
        )
    if source.is_dir() and (source / "saved_model.pb").exists():
        raise WorkbenchError(
            f"{source} is already a TensorFlow SavedModel; export takes a run (see 'runs') or a .keras model file."
        )
    if source.suffix.lower() != ".keras":
        source = runs.resolve_run(args.source) / "model.keras"
    target = Path(args.target) if args.target else source.with_suffix(default_suffix(args.format) or "")
    if not args.target and args.format == "savedmodel":
        target = source.with_name(source.stem + "-savedmodel")
    if not args.target and args.format == "keras":
        raise WorkbenchError("Say where to export the .keras file: python main.py export SOURCE --to PATH")
    report = export_model(source, target, args.format, overwrite=args.force)
    print(report.summary())
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from core.devices import describe, detect

    print("\n".join(describe(detect())))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from core.datasets import list_datasets

    for d in list_datasets():
        shape = "x".join(str(v) for v in d["image_shape"])
        where = "offline" if d["available_offline"] else f"downloads once into {d['cache_path']}"
        print(f"{d['name']:<14} {d['title']:<40} {d['classes']:>4} classes  {shape:<8} {where}")
    print("\nOr give --dataset a folder with one sub-folder of images per class.")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from core.models import build_model, check_input, get_spec, list_models, model_summary

    if args.name:
        spec = get_spec(args.name)
        shape = args.input
        check_input(spec.name, shape)
        model = build_model(spec.name, shape, args.classes)
        summary = model_summary(model)
        print(f"{spec.title}: {spec.description}")
        print(f"{'layer':<28} {'type':<22} {'output shape':<22} {'params':>12}")
        for row in summary["rows"]:
            print(f"{row['name'][:28]:<28} {row['type'][:22]:<22} {row['output_shape'][:22]:<22} {row['params']:>12,}")
        print(
            f"total {summary['total']:,} parameters ({summary['trainable']:,} trainable, "
            f"{summary['non_trainable']:,} non-trainable) at {'x'.join(map(str, shape))}, {args.classes} classes"
        )
        return 0
    print(f"{'auto':<20} {'Auto':<26} Chosen and scaled for the dataset when training starts (the default).")
    for spec in list_models():
        print(f"{spec.name:<20} {spec.title:<26} {spec.description}")
    print("\nShow one model's layers: python main.py models NAME --input 28x28x1")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from core import paths, runs

    listed = runs.list_runs()
    if not listed:
        print(f"No runs yet in {paths.runs_dir()}.")
        return 0
    for info in listed:
        print(run_line(info))
    return 0


def run_line(info) -> str:
    """One run as ``python main.py runs`` lists it (a :class:`core.runs.RunInfo`)."""
    acc_text = f"test {info.test_accuracy:.4f}" if info.test_accuracy is not None else ""
    best = info.best
    best_text = ""
    if best is not None:
        what = "val" if best.metric == "val_accuracy" else "train acc, no validation"
        best_text = f"  best epoch {best.epoch} ({what} {best.value:.4f})"
    problems = f"  problems: {'; '.join(info.problems)}" if info.problems else ""
    done = info.epochs_done if info.epochs_done is not None else 0
    return (
        f"{info.name:<48} {info.state:<11} {info.model or '?':<16} {(info.dataset or '?')[:20]:<20} "
        f"{done:>3} epochs  {acc_text}{best_text}{problems}"
    )


# --------------------------------------------------------------------------------------------
# Studies (sweeps): core/studies


def _sweep_plan(args: argparse.Namespace):
    """The StudyPlan a sweep command asks for: a --plan file, overridden by the flags given."""
    from core.config import TrainConfig
    from core.studies.plan import StudyPlan, default_name, load_plan_file, parse_duration, parse_vary

    data = load_plan_file(args.plan) if args.plan else {"base": {}, "factors": []}
    base = {**TrainConfig().to_dict(), **data["base"]}
    options = dict(base.get("model_options") or {})
    for key, value in (("dataset", args.dataset), ("model", args.model), ("epochs", args.epochs)):
        if value is not None:
            base[key] = value
    if args.limit is not None:
        base["limit"] = args.limit
    if args.batch_size is not None:
        base["batch_size"] = args.batch_size
    for key in ("precision", "devices"):
        if getattr(args, key) is not None:
            base[key] = getattr(args, key)
    for key, value in args.set or []:
        base[key] = value
    for key, value in args.option or []:
        options[key] = value
    if args.model is not None and args.model != data["base"].get("model"):
        options = dict(args.option or [])
    base["model_options"] = options
    factors = list(data["factors"])
    for text in args.vary or []:
        f = parse_vary(text)
        factors = [g for g in factors if g.key != f.key] + [f]
    design = args.design or data.get("design") or "grid"
    name = args.name or data.get("name")
    if not name:
        name = default_name(base, design)
    budget = parse_duration(args.time_budget) if args.time_budget else data.get("time_budget")
    return StudyPlan(
        name=name,
        base=base,
        factors=factors,
        design=design,
        trials=args.trials if args.trials is not None else data.get("trials"),
        time_budget=budget,
        objective=args.objective or data.get("objective") or "val_accuracy",
        pruner=args.pruner or data.get("pruner") or "none",
        storage=args.storage or data.get("storage"),
        retries=data.get("retries", 2),
        seed=data.get("seed", 0),
    )


def _print_study_end(result) -> None:
    from core.studies import table

    rows = result.rows
    counts = {s: sum(r.state == s for r in rows) for s in ("complete", "pruned", "failed")}
    done = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no trial finished"
    print(f"\nstudy {result.plan.name} ({result.plan.design}): {done}")
    header, body = table.table_data(rows, result.plan)
    if result.plan.design == "ofat":
        from core.studies.designs import planned_trials

        print("baseline: " + table.params_text((planned_trials(result.plan) or [{}])[0]))
    print(table.to_text(header, body))
    if result.left:
        print(
            f"{result.left} trial(s) not run yet: continue with python main.py sweep-worker {result.plan.name}"
            + (f" --storage {result.plan.storage}" if result.plan.storage else ""),
            file=sys.stderr,
        )
    print(table.best_line(rows, result.plan, result.folder), flush=True)


def _serve_address(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise WorkbenchError(f"--serve takes PORT or HOST:PORT (e.g. 0.0.0.0:13000), not {text}.")
    return host or "0.0.0.0", int(port)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a study: one factor at a time, a grid, random or TPE, each trial a run."""
    from core.studies import designs, table
    from core.studies.runner import run_study

    plan = _sweep_plan(args)
    plan.check()
    planned = designs.planned_trials(plan)
    total = len(planned) if planned is not None else plan.trials
    what = f"{total} trials" if total else "trials until the time budget is spent"
    print(
        f"study {plan.name}: {plan.design} design, {what}, {args.jobs} job(s), objective {plan.objective}"
        + (f", pruner {plan.pruner}" if plan.pruner != "none" else ""),
        file=sys.stderr,
        flush=True,
    )
    cancel = CancelToken()
    try:
        result = run_study(
            plan,
            jobs=args.jobs,
            cancel=cancel,
            serve=_serve_address(args.serve),
            on_trial=lambda t: print(table.progress_line(t, plan, total), flush=True),
        )
    except KeyboardInterrupt:  # pragma: no cover - interactive
        cancel.cancel()
        print(f"interrupted: continue with python main.py sweep-worker {plan.name}", file=sys.stderr)
        return 130
    _print_study_end(result)
    return 0


def cmd_sweep_worker(args: argparse.Namespace) -> int:
    """Join an existing study (from this or another machine) and run its queued trials."""
    from core.studies import table
    from core.studies.runner import join_study

    holder = {}

    def line(t) -> None:
        plan = holder.get("plan")
        print(table.progress_line(t, plan, None) if plan else f"trial {t.number} {t.state.name}", flush=True)

    from core.studies.storage import load_study

    _, plan, _, _ = load_study(args.study, args.storage)
    holder["plan"] = plan
    result = join_study(args.study, args.storage, jobs=args.jobs, on_trial=line)
    _print_study_end(result)
    return 0


def cmd_studies(args: argparse.Namespace) -> int:
    from core.studies.storage import list_studies, studies_dir

    found = list_studies()
    if not found:
        print(f"No studies yet in {studies_dir()}.")
        return 0
    for s in found:
        factors = " ".join(f.get("key", "?") for f in s.get("factors", []))
        where = s.get("storage") or "journal file"
        model = str(s.get("base", {}).get("model", "?"))
        print(f"{s['name']:<40} {s.get('design', '?'):<6} {model:<16} vary {factors}  ({where})")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from core.studies import table
    from core.studies.storage import load_study

    study, plan, _, folder = load_study(args.study, args.storage)
    rows = table.trial_rows(study)
    header, body = table.table_data(rows, plan)
    if args.csv:
        sys.stdout.write(table.to_csv(header, body))
    elif args.markdown:
        sys.stdout.write(table.to_markdown(header, body))
    else:
        print(table.to_text(header, body))
        print(table.best_line(rows, plan, folder))
    return 0


def _add_study_parsers(sub) -> None:
    from core.studies.plan import DESIGNS, OBJECTIVES, PRUNERS

    sw = sub.add_parser(
        "sweep",
        help="run a study: vary settings over many runs (one factor at a time, grid, random or TPE)",
        description="Each trial is an ordinary run. Values: KEY=V1,V2 (a list) or KEY=LO..HI[:log] (a range, for "
        "random and TPE); KEY=V1,V2@OTHER=V only when OTHER has value V. KEY is a train setting "
        "(batch_size, optimizer, learning_rate, ...) or a model option (dropout, conv_layers, ...).",
    )
    sw.add_argument("--plan", metavar="FILE", help="a study file (TOML), e.g. resources/studies/photos.toml")
    sw.add_argument("--dataset", default=None, help="built-in name or a folder of class folders")
    sw.add_argument("--model", default=None, help="zoo name (see 'models')")
    sw.add_argument("--epochs", type=int, default=None, help="epochs per trial")
    sw.add_argument("--batch-size", type=int, default=None)
    sw.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    _add_compute_arguments(sw, None)
    sw.add_argument("--vary", action="append", metavar="KEY=VALUES", help="a factor (repeat for more)")
    sw.add_argument(
        "--set", type=_parse_option, action="append", metavar="KEY=VALUE", help="a fixed (baseline) setting"
    )
    sw.add_argument("--option", type=_parse_option, action="append", metavar="KEY=VALUE", help="a fixed model option")
    sw.add_argument("--design", choices=DESIGNS, default=None, help="ofat: one factor at a time (default grid)")
    sw.add_argument("--trials", type=int, default=None, help="number of trials (random/TPE; grid/ofat: the first N)")
    sw.add_argument("--time-budget", default=None, metavar="TIME", help="start no trial after this, e.g. 10m")
    sw.add_argument("--jobs", type=int, default=1, help="worker processes on this machine")
    sw.add_argument("--pruner", choices=PRUNERS, default=None, help="stop unpromising trials early")
    sw.add_argument("--objective", choices=OBJECTIVES, default=None)
    sw.add_argument("--name", default=None, help="study name (the same name and settings continue a study)")
    sw.add_argument("--storage", default=None, metavar="URL", help="sqlite:///F, postgresql://..., grpc://HOST:PORT")
    sw.add_argument("--serve", default=None, metavar="[HOST:]PORT", help="let other machines join via gRPC")
    sw.set_defaults(func=cmd_sweep)

    w = sub.add_parser("sweep-worker", help="join a study (from another terminal or machine) and run its trials")
    w.add_argument("study", help="study name")
    w.add_argument("--storage", default=None, metavar="URL", help="where the study lives (default: this workspace)")
    w.add_argument("--jobs", type=int, default=1, help="worker processes")
    w.set_defaults(func=cmd_sweep_worker)

    ss = sub.add_parser("studies", help="list the studies in the workspace")
    ss.set_defaults(func=cmd_studies)

    st = sub.add_parser("study", help="print a study's table")
    st.add_argument("study", help="study name or folder")
    st.add_argument("--storage", default=None, metavar="URL")
    fmt = st.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="as CSV")
    fmt.add_argument("--markdown", action="store_true", help="as a Markdown table")
    st.set_defaults(func=cmd_study)


def _add_compute_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """--precision and --devices (train: their defaults; sweep: None, the plan's own)."""
    from core.devices import DEVICES_HELP, PRECISIONS

    parser.add_argument(
        "--precision",
        default=default,
        metavar="|".join(PRECISIONS),
        help="auto: mixed where the hardware is fast at it (tensor-core GPUs, CPUs with bfloat16 units), "
        "else float32 (see 'devices')",
    )
    parser.add_argument("--devices", default=default, metavar="LIST", help=f"where to train: {DEVICES_HELP}")


def build_parser() -> argparse.ArgumentParser:
    from core.config import OPTIMIZERS, RECIPES, SCHEDULES, TrainConfig

    d = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="CNN Workbench: train, evaluate and use image classifiers. With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"CNN Workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train", help="train a model and save a run", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    t.add_argument("--dataset", default=d.dataset, help="built-in name (see 'datasets') or a folder of class folders")
    t.add_argument(
        "--model", default="auto", help="zoo name (see 'models'), or auto: a network chosen and scaled for the data"
    )
    t.add_argument(
        "--recipe",
        choices=RECIPES,
        default=argparse.SUPPRESS,  # absent: decided by --model (the help says how)
        help="auto: optimizer, schedule, batch size, augmentation, label smoothing, early stopping and class "
        "weights chosen from the data (the flags for them are then not used); manual: the flags. "
        "Default: auto with --model auto, manual with a zoo model",
    )
    t.add_argument(
        "--time-budget",
        metavar="TIME",
        default=argparse.SUPPRESS,
        help="train for this long instead of a number of epochs, e.g. 2m, 90s, 1h "
        "(default: 2m with the auto recipe, unless --epochs is given)",
    )
    t.add_argument("--epochs", type=int, default=argparse.SUPPRESS, help=f"epochs to train (default: {d.epochs})")
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    t.add_argument("--lr", type=float, default=d.learning_rate, help="learning rate")
    t.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum")
    t.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help="learning-rate schedule")
    t.add_argument("--step-epochs", type=int, default=d.step_epochs, help="step decay: epochs between steps")
    t.add_argument("--step-factor", type=float, default=d.step_factor, help="step decay: factor per step")
    t.add_argument("--validation-split", type=float, default=d.validation_split)
    t.add_argument("--test-split", type=float, default=d.test_split, help="folders without a test/ folder")
    t.add_argument("--image-size", type=int, default=None, help="folders: resize images to this square size")
    t.add_argument("--color-mode", choices=("auto", "grayscale", "rgb"), default=d.color_mode)
    t.add_argument(
        "--flip", action="store_true", help="augment: random horizontal flips (left and right do not matter)"
    )
    t.add_argument("--rotation", type=float, default=0.0, help="augment: random rotation up to +-DEGREES")
    t.add_argument("--zoom", type=float, default=0.0, help="augment: random zoom up to +-FRACTION")
    t.add_argument("--translation", type=float, default=0.0, help="augment: random shift up to +-FRACTION")
    t.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        default=None,
        help="stop after PATIENCE epochs without a better best epoch (validation accuracy)",
    )
    t.add_argument(
        "--option",
        type=_parse_option,
        action="append",
        metavar="KEY=VALUE",
        help="model option, e.g. dropout=0.3",
    )
    t.add_argument("--pretrained", action="store_true", help="ImageNet weights for Keras Applications backbones")
    t.add_argument(
        "--center-loss", type=float, default=0.0, metavar="WEIGHT", help="add a centre-loss term on the features layer"
    )
    t.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard logs")
    t.add_argument("--seed", type=int, default=d.seed)
    _add_compute_arguments(t, "auto")
    t.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    t.add_argument("--name", default="", help="a label for the run")
    t.add_argument("--save-model", metavar="PATH", help="also copy the best model and its card to PATH (.keras)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a run's model on its test set")
    e.add_argument("run", help="run folder, or its name in the workspace (see 'runs')")
    e.add_argument("--report", action="store_true", help="print the per-class report")
    e.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict images with a .keras model")
    p.add_argument("model", help="a .keras file (a card .json beside it gives class names)")
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--top", type=int, default=3, help="how many classes to show per image")
    p.set_defaults(func=cmd_predict)

    x = sub.add_parser("export", help="export a run's model (or a .keras file) and check the export")
    x.add_argument("source", help="a run (folder or name) or a .keras file")
    x.add_argument(
        "--format",
        choices=("keras", "savedmodel", "tflite", "onnx"),
        default="tflite",
        help="onnx needs the optional extra: pip install 'cnn-workbench[onnx]'",
    )
    x.add_argument("--to", dest="target", help="where to write it (default: beside the model)")
    x.add_argument("--force", action="store_true", help="replace an earlier export of the same kind at that place")
    x.set_defaults(func=cmd_export)

    dv = sub.add_parser("devices", help="the CPU, the GPUs TensorFlow sees, and the precision 'auto' picks")
    dv.set_defaults(func=cmd_devices)

    ds = sub.add_parser("datasets", help="list the built-in datasets")
    ds.set_defaults(func=cmd_datasets)

    m = sub.add_parser("models", help="list the model zoo, or show one model's layers")
    m.add_argument("name", nargs="?", help="a model to summarise")
    m.add_argument("--input", type=_parse_shape, default=(28, 28, 1), help="input shape, e.g. 32x32x3")
    m.add_argument("--classes", type=int, default=10)
    m.set_defaults(func=cmd_models)

    r = sub.add_parser("runs", help="list the runs in the workspace")
    r.set_defaults(func=cmd_runs)

    res = sub.add_parser("resume", help="go on with an interrupted or stopped run from its last whole epoch")
    res.add_argument("run", help="run name or folder (see 'runs')")
    res.set_defaults(func=cmd_resume)

    c = sub.add_parser("continue", help="train a run for more epochs, in the same run folder")
    c.add_argument("run", help="run name or folder (see 'runs')")
    c.add_argument("--epochs", type=int, required=True, help="how many more epochs to train")
    c.set_defaults(func=cmd_continue)

    _add_study_parsers(sub)
    return parser


def run_cli(argv: list[str]) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    setup_logging()
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if os.environ.get("CNN_WORKBENCH_DEBUG") and exc.detail:
            print(exc.detail, file=sys.stderr)
        return 2


def main() -> int:  # pragma: no cover - console entry
    return run_cli(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
