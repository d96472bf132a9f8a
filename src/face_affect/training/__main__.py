"""``python -m face_affect.training train emotion --data ../shared/data/fer2013.npz``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

# oneDNN's AVX-512 kernels can crash on odd batch sizes on these CPUs; must be set before torch loads.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

from face_affect.settings import SOURCE_ROOT  # noqa: E402
from face_affect.training.age import age_splits  # noqa: E402
from face_affect.training.augmentation import AugmentationRanges, CameraEffects  # noqa: E402
from face_affect.training.calibration import calibrate  # noqa: E402
from face_affect.training.datasets import (  # noqa: E402
    LabelledSplits,
    load_dataset,
    load_ferplus_votes,
    with_extra_training_faces,
)
from face_affect.training.framing import detect_in_crops, framing_margins, placed_in_framing  # noqa: E402
from face_affect.training.graph import NORMALIZATIONS  # noqa: E402
from face_affect.training.heads import (  # noqa: E402
    HeadsConfig,
    HeadSplits,
    export_heads,
    file_head_splits,
    head_figures,
    label_training_faces,
    load_heads_data,
    release_heads,
    train_heads,
)
from face_affect.training.mini_xception import MINIMUM_WIDTH, PAPER_WIDTHS  # noqa: E402
from face_affect.training.pseudo_labels import PseudoThresholds  # noqa: E402
from face_affect.training.release import (  # noqa: E402
    evaluate_age_model,
    evaluate_model,
    export_checkpoint,
    set_child_offset,
    set_metadata,
    write_report,
)
from face_affect.training.selection import SELECTIONS  # noqa: E402
from face_affect.training.train import DEFAULT_RUNS_DIRECTORY, TrainingConfig, train  # noqa: E402

FLIP_AVERAGE_HELP = "average the logits of each face and its mirror image in the exported graph"
CHILD_RECALL_HELP = (
    "age: raise the child classes' scores in the exported file by the least offset that gets this share "
    "of the validation children estimated under 13; 0: off"
)
TASK_DATA = {"emotion": "fer2013.npz", "gender": "gender_utkface.npz", "age": "gender_utkface.npz"}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m face_affect.training")
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train", help="train from scratch (or resume), then export")
    train_parser.add_argument("task", choices=sorted(TASK_DATA))
    train_parser.add_argument("--data", required=True, help="npz archive, fer2013.csv or UTKFace folder")
    train_parser.add_argument("--architecture", default="mini_xception")
    train_parser.add_argument(
        "--widths",
        type=widths_argument,
        default=(),
        help="mini_xception: the stem's width, then each residual module's, comma-separated "
        f"(default the paper's {','.join(map(str, PAPER_WIDTHS))}; more entries add modules)",
    )
    train_parser.add_argument("--epochs", type=int, default=TrainingConfig.epochs)
    train_parser.add_argument("--batch-size", type=int, default=TrainingConfig.batch_size)
    train_parser.add_argument("--learning-rate", type=float, default=TrainingConfig.learning_rate)
    train_parser.add_argument("--schedule", choices=("plateau", "cosine"), default=TrainingConfig.schedule)
    train_parser.add_argument("--label-smoothing", type=float, default=TrainingConfig.label_smoothing)
    train_parser.add_argument("--seed", type=int, default=TrainingConfig.seed)
    train_parser.add_argument("--threads", type=int, default=TrainingConfig.threads)
    train_parser.add_argument(
        "--epochs-now",
        type=int,
        default=0,
        help="stop after this many epochs (0: all); run the same command again to resume, then export",
    )
    train_parser.add_argument("--run-directory", type=Path, help="checkpoints and log (outside the repo)")
    train_parser.add_argument("--output", type=Path, help="ONNX file to write (default models/<task>_<arch>.onnx)")
    train_parser.add_argument("--flip-average", action="store_true", help=FLIP_AVERAGE_HELP)
    train_parser.add_argument(
        "--teacher",
        action="append",
        default=[],
        type=Path,
        help="a trained run's best.pt, or an ONNX file, to distil (repeatable)",
    )
    train_parser.add_argument("--distillation-weight", type=float, default=TrainingConfig.distillation_weight)
    train_parser.add_argument("--distillation-temperature", type=float, default=TrainingConfig.distillation_temperature)
    train_parser.add_argument("--initial-weights", type=Path, help="best.pt to fine-tune instead of starting afresh")
    train_parser.add_argument(
        "--weight-averaging", type=float, default=TrainingConfig.weight_averaging, help="EMA decay of the weights kept"
    )
    train_parser.add_argument(
        "--auxiliary-weight",
        type=float,
        default=TrainingConfig.auxiliary_weight,
        help="weight of race and age losses learnt beside gender (UTKFace); 0: off",
    )
    train_parser.add_argument(
        "--normalization",
        choices=sorted(NORMALIZATIONS),
        default=TrainingConfig.normalization,
        help="input normalisation inside the graph: scale (the paper's) or standardise (per crop)",
    )
    train_parser.add_argument(
        "--camera-augmentation",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of each camera effect (exposure, contrast, blur, resolution, noise, JPEG, erasing)",
    )
    add_scene_augmentation_arguments(train_parser)
    train_parser.add_argument("--rotation-degrees", type=float, default=AugmentationRanges.rotation_degrees)
    train_parser.add_argument("--votes", type=Path, help="ferplus_votes.npz: crowd votes for FER-2013 (emotion)")
    train_parser.add_argument("--vote-weight", type=float, default=TrainingConfig.vote_weight)
    train_parser.add_argument(
        "--group-balance",
        type=float,
        default=TrainingConfig.group_balance,
        metavar="POWER",
        help="weigh each face by count(age band x gender x race group) ** -POWER (UTKFace); 0: off",
    )
    train_parser.add_argument("--child-recall", type=float, default=0.0, help=CHILD_RECALL_HELP)
    train_parser.add_argument(
        "--expectation-weight",
        type=float,
        default=TrainingConfig.expectation_weight,
        help="also learn the expectation over the classes' values (age), its absolute error in tens; 0: off",
    )
    train_parser.add_argument(
        "--children", type=Path, help="age_utkface_children.npz: UTKFace's faces aged 0-12 (age only)"
    )
    train_parser.add_argument(
        "--extra-train",
        action="append",
        default=[],
        type=Path,
        help="training-only faces, e.g. gender_utkface_extra.npz (repeatable); each is measured by the detector "
        "and moved into the data set's framing where it differs (gender_lfw.npz)",
    )
    train_parser.add_argument(
        "--source-balance",
        action="store_true",
        help="weigh the classes alike within each source of training faces (the data set, each --extra-train)",
    )
    train_parser.add_argument(
        "--selection",
        choices=SELECTIONS,
        default=TrainingConfig.selection,
        help="validation figure that keeps an epoch",
    )
    heads_parser = commands.add_parser(
        "train-heads", help="one trunk, emotion, gender and age heads, trained on every face (or resume), then export"
    )
    add_heads_data_arguments(heads_parser)
    heads_parser.add_argument("--widths", type=widths_argument, default=HeadsConfig.widths)
    heads_parser.add_argument("--epochs", type=int, default=HeadsConfig.epochs)
    heads_parser.add_argument("--batch-size", type=int, default=HeadsConfig.batch_size)
    heads_parser.add_argument("--learning-rate", type=float, default=HeadsConfig.learning_rate)
    heads_parser.add_argument("--label-smoothing", type=float, default=HeadsConfig.label_smoothing)
    heads_parser.add_argument("--vote-weight", type=float, default=HeadsConfig.vote_weight)
    heads_parser.add_argument("--expectation-weight", type=float, default=HeadsConfig.expectation_weight)
    heads_parser.add_argument("--age-group-balance", type=float, default=HeadsConfig.age_group_balance)
    heads_parser.add_argument("--camera-augmentation", type=float, default=0.2, metavar="P")
    add_scene_augmentation_arguments(heads_parser)
    heads_parser.add_argument(
        "--pseudo-labels",
        type=Path,
        help="a pseudo-label file of these training faces: teacher labels of the tasks a face lacks",
    )
    heads_parser.add_argument(
        "--pseudo-weight",
        type=float,
        default=HeadsConfig.pseudo_weight,
        help="loss weight of a pseudo-labelled face (a real label's is 1)",
    )
    heads_parser.add_argument("--rotation-degrees", type=float, default=15.0)
    heads_parser.add_argument("--normalization", choices=sorted(NORMALIZATIONS), default=HeadsConfig.normalization)
    heads_parser.add_argument("--initial-weights", type=Path, help="a train-heads best.pt to start from")
    heads_parser.add_argument("--seed", type=int, default=HeadsConfig.seed)
    heads_parser.add_argument("--threads", type=int, default=HeadsConfig.threads)
    heads_parser.add_argument("--epochs-now", type=int, default=0, help="stop after this many epochs (0: all)")
    heads_parser.add_argument(
        "--train-only", action="store_true", help="stop when trained; the same command without it exports"
    )
    heads_parser.add_argument("--run-directory", type=Path, help="checkpoints and log (outside the repo)")
    heads_parser.add_argument("--output", type=Path, help="ONNX file (default models/heads_mini_xception.onnx)")
    heads_parser.add_argument("--flip-average", action="store_true", help=FLIP_AVERAGE_HELP)
    heads_parser.add_argument("--child-recall", type=float, default=0.0, help=CHILD_RECALL_HELP)
    pseudo_parser = commands.add_parser(
        "pseudo-label",
        help="label train-heads' training faces for the tasks their source lacks with teacher files (noisy student)",
    )
    add_heads_data_arguments(pseudo_parser)
    pseudo_parser.add_argument(
        "--teacher",
        action="append",
        required=True,
        type=Path,
        help="an ONNX file, single-task or multi-head (repeatable: the teachers of a task are averaged)",
    )
    pseudo_parser.add_argument("--output", type=Path, required=True, help="the labels (.npz, outside the repo)")
    pseudo_parser.add_argument(
        "--min-confidence-gender", type=float, default=PseudoThresholds.min_confidence_gender, metavar="P"
    )
    pseudo_parser.add_argument(
        "--min-confidence-emotion", type=float, default=PseudoThresholds.min_confidence_emotion, metavar="P"
    )
    pseudo_parser.add_argument(
        "--min-confidence-child",
        type=float,
        default=PseudoThresholds.min_confidence_child,
        metavar="P",
        help="keep an age where the teachers give an age under 13 a probability of at least P or at most 1 - P",
    )
    pseudo_parser.add_argument(
        "--max-age-spread",
        type=float,
        metavar="YEARS",
        help="also: where the standard deviation of the teachers' age distribution is at most this (default: any)",
    )
    pseudo_parser.add_argument("--threads", type=int, default=1)
    export_parser = commands.add_parser("export", help="export a checkpoint, then evaluate the ONNX file")
    export_parser.add_argument("task", choices=sorted(TASK_DATA))
    export_parser.add_argument("--data", required=True)
    export_parser.add_argument("--checkpoint", type=Path, required=True)
    export_parser.add_argument("--architecture", default="mini_xception")
    export_parser.add_argument("--training-command", default="", help="recorded in the model's metadata")
    export_parser.add_argument("--output", type=Path)
    export_parser.add_argument("--flip-average", action="store_true", help=FLIP_AVERAGE_HELP)
    export_parser.add_argument("--children", type=Path, help="age_utkface_children.npz (age)")
    export_parser.add_argument("--child-recall", type=float, default=0.0, help=CHILD_RECALL_HELP)
    evaluate_heads_parser = commands.add_parser(
        "evaluate-heads", help="each head of a multi-head file on its own validation or test split"
    )
    evaluate_heads_parser.add_argument("model", type=Path)
    evaluate_heads_parser.add_argument("--fer", type=Path, required=True)
    evaluate_heads_parser.add_argument("--votes", type=Path, required=True)
    evaluate_heads_parser.add_argument("--utkface", type=Path, required=True)
    evaluate_heads_parser.add_argument("--children", type=Path, required=True)
    evaluate_heads_parser.add_argument("--split", default="val", choices=("val", "test"))
    calibrate_parser = commands.add_parser(
        "calibrate", help="fit a temperature on validation, store it in the ONNX file, report ECE and reliability"
    )
    calibrate_parser.add_argument("model", type=Path)
    calibrate_parser.add_argument("--data", required=True)
    evaluate_parser = commands.add_parser("evaluate", help="evaluate an ONNX model on a data split")
    evaluate_parser.add_argument("model", type=Path)
    evaluate_parser.add_argument("--data", required=True)
    evaluate_parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    return parser.parse_args(argv)


def add_scene_augmentation_arguments(parser: argparse.ArgumentParser) -> None:
    """What real cameras show and the data sets lack (:class:`CameraEffects`); off by default."""
    parser.add_argument(
        "--pose-augmentation",
        type=float,
        default=CameraEffects.pose_probability,
        metavar="P",
        help="share of crops warped as a face looking down or up, or turned left or right (perspective)",
    )
    parser.add_argument(
        "--occluder-augmentation",
        type=float,
        default=CameraEffects.occluder_probability,
        metavar="P",
        help="share of crops with a hat, a scarf or a hand over the face",
    )


def camera_effects(arguments: argparse.Namespace) -> CameraEffects:
    return CameraEffects(
        probability=arguments.camera_augmentation,
        pose_probability=arguments.pose_augmentation,
        occluder_probability=arguments.occluder_augmentation,
    )


def add_heads_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data of ``train-heads``, which ``pseudo-label`` must be given alike."""
    parser.add_argument("--fer", type=Path, required=True, help="fer2013.npz (emotion)")
    parser.add_argument("--votes", type=Path, required=True, help="ferplus_votes.npz (emotion)")
    parser.add_argument("--utkface", type=Path, required=True, help="gender_utkface.npz (gender and age)")
    parser.add_argument(
        "--utkface-extra", type=Path, action="append", default=[], help="gender_utkface_extra.npz (repeatable)"
    )
    parser.add_argument("--children", type=Path, required=True, help="age_utkface_children.npz (age)")
    parser.add_argument(
        "--lfw", type=Path, action="append", default=[], help="gender_lfw.npz: gender only, reframed (repeatable)"
    )
    parser.add_argument("--input-size", type=int, default=HeadsConfig.input_size)


def heads_data(arguments: argparse.Namespace, age_group_balance: float = HeadsConfig.age_group_balance) -> HeadSplits:
    """The faces of ``train-heads`` and ``pseudo-label`` (:func:`add_heads_data_arguments`)."""
    return load_heads_data(
        arguments.fer,
        arguments.votes,
        arguments.utkface,
        arguments.utkface_extra,
        arguments.children,
        arguments.lfw,
        arguments.input_size,
        age_group_balance,
    )


def widths_argument(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(width) for width in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated integers, e.g. 16,32,64,128,256") from None
    if len(widths) < 2 or min(widths) < MINIMUM_WIDTH:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the stem's width and at least one module's, each at least {MINIMUM_WIDTH}"
        )
    return widths


def default_output(task: str, architecture: str) -> Path:
    return SOURCE_ROOT / "models" / f"{task}_{architecture}.onnx"


def export_and_report(
    task: str,
    architecture: str,
    checkpoint: Path,
    data: LabelledSplits,
    output: Path,
    command: str,
    flip_average: bool = False,
    child_recall: float = 0.0,
) -> None:
    """Exports, evaluates the ONNX file on the test split, writes docs/ and the test accuracy (age: MAE;
    with ``child_recall``, the child-class offset chosen on validation first)."""
    export_checkpoint(task, architecture, checkpoint, data, output, command, flip_average)
    if task == "age":
        if child_recall > 0:
            offset = set_child_offset(output, data, child_recall)
            logging.info("child offset %.2f: the least for %.3f of the validation children", offset, child_recall)
        report = evaluate_age_model(output, data)
        set_metadata(output, {"test_mae": report["mae"]})
        path = SOURCE_ROOT / "docs" / f"{output.stem}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        logging.info("wrote %s and %s; test MAE %.2f years", output, path, report["mae"])
        return
    report = evaluate_model(output, data)
    set_metadata(output, {"test_accuracy": report["whole_image"]["accuracy"]})
    stem = output.stem
    path = write_report(
        report, SOURCE_ROOT / "docs", stem, f"{stem}: test accuracy {report['whole_image']['accuracy']:.3f}"
    )
    logging.info(
        "wrote %s and %s; report %s", output, path, json.dumps({k: v for k, v in report.items() if k != "whole_image"})
    )
    logging.info("whole-image test accuracy %.4f", report["whole_image"]["accuracy"])


def training_data(arguments: argparse.Namespace) -> LabelledSplits:
    """The data of ``train``: ``--data`` with any crowd votes, training-only faces and, for age, the children."""
    data = load_dataset(arguments.data)
    if arguments.votes:
        data = load_ferplus_votes(arguments.votes, data)
    if arguments.extra_train:
        validation = data.images["val"]  # the framing the exported file's crop_margin reproduces
        target = framing_margins(validation, detect_in_crops(validation))
        for path in arguments.extra_train:
            data = with_extra_training_faces(path, data, lambda images: placed_in_framing(images, target))
    if arguments.task == "age":
        if not arguments.children:
            raise SystemExit("train age needs --children age_utkface_children.npz")
        data = age_splits(data, arguments.children)
    return data


def train_heads_command(arguments: argparse.Namespace, argv: list[str]) -> int:
    """``train-heads``: trains (or resumes) the three-headed network, then exports, calibrates and reports."""
    config = HeadsConfig(
        widths=arguments.widths,
        input_size=arguments.input_size,
        epochs=arguments.epochs,
        batch_size=arguments.batch_size,
        learning_rate=arguments.learning_rate,
        label_smoothing=arguments.label_smoothing,
        vote_weight=arguments.vote_weight,
        expectation_weight=arguments.expectation_weight,
        age_group_balance=arguments.age_group_balance,
        seed=arguments.seed,
        threads=arguments.threads,
        initial_weights=str(arguments.initial_weights or ""),
        augmentation=AugmentationRanges(rotation_degrees=arguments.rotation_degrees),
        camera_effects=camera_effects(arguments),
        normalization=arguments.normalization,
        pseudo_labels=str(arguments.pseudo_labels or ""),
        pseudo_weight=arguments.pseudo_weight,
    )
    run_directory = arguments.run_directory or DEFAULT_RUNS_DIRECTORY / "heads_mini_xception"
    splits = heads_data(arguments, config.age_group_balance)
    train_heads(splits, config, run_directory, arguments.epochs_now)
    finished = json.loads((run_directory / "log.jsonl").read_text().splitlines()[-1])["epoch"] >= config.epochs
    if not finished or arguments.train_only:
        logging.info("stopped; the same command resumes (and, without --train-only, exports when trained)")
        return 0
    command = "python -m face_affect.training " + shlex.join(argv)
    output = arguments.output or default_output("heads", "mini_xception")
    export_heads(run_directory / "best.pt", output, command, arguments.flip_average)
    report = release_heads(output, splits.tasks, SOURCE_ROOT / "docs", arguments.child_recall)
    logging.info("wrote %s: %s", output, json.dumps(report))
    for split in ("val", "test"):
        figures = head_figures(output, splits.tasks, split)
        path = SOURCE_ROOT / "docs" / f"{output.stem}_{split}.json"
        path.write_text(json.dumps(figures, indent=2) + "\n")
        logging.info("%s: %s", path, json.dumps(figures))
    return 0


def pseudo_label_command(arguments: argparse.Namespace) -> int:
    """``pseudo-label``: the teachers' labels of train-heads' training faces for the tasks each lacks."""
    started = time.monotonic()
    train = heads_data(arguments).train
    thresholds = PseudoThresholds(
        min_confidence_emotion=arguments.min_confidence_emotion,
        min_confidence_gender=arguments.min_confidence_gender,
        min_confidence_child=arguments.min_confidence_child,
        max_age_spread=arguments.max_age_spread,
    )
    labelled = time.monotonic()
    labels = label_training_faces(train, arguments.teacher, thresholds, arguments.threads)
    labels.save(arguments.output)
    logging.info(
        "wrote %s: faces kept per task and source %s of %s (data %.0f s, teachers %.0f s)",
        arguments.output,
        json.dumps(labels.counts()),
        json.dumps(train.sources),
        labelled - started,
        time.monotonic() - labelled,
    )
    return 0


def evaluate_heads_command(arguments: argparse.Namespace) -> int:
    """``evaluate-heads``: each head of a multi-head file on its own split (:func:`head_figures`), its faces in
    the file's framing (:func:`file_head_splits`)."""
    tasks = file_head_splits(arguments.model, arguments.fer, arguments.votes, arguments.utkface, arguments.children)
    print(json.dumps(head_figures(arguments.model, tasks, arguments.split), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    arguments = parse_arguments(argv)
    if getattr(arguments, "child_recall", 0) and getattr(arguments, "task", "age") != "age":
        raise SystemExit("--child-recall is for age: the share of the validation children estimated under 13")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if arguments.command == "evaluate":
        report = evaluate_model(arguments.model, load_dataset(arguments.data), arguments.split)
        report.pop("_evaluation")
        print(json.dumps(report, indent=2))
        return 0
    if arguments.command == "calibrate":
        report = calibrate(arguments.model, load_dataset(arguments.data), SOURCE_ROOT / "docs")
        print(json.dumps(report, indent=2))
        return 0
    if arguments.command == "export":
        output = arguments.output or default_output(arguments.task, arguments.architecture)
        data = load_dataset(arguments.data)
        if arguments.task == "age":
            data = age_splits(data, arguments.children)
        export_and_report(
            arguments.task,
            arguments.architecture,
            arguments.checkpoint,
            data,
            output,
            arguments.training_command,
            arguments.flip_average,
            arguments.child_recall,
        )
        return 0
    if arguments.command == "evaluate-heads":
        return evaluate_heads_command(arguments)
    if arguments.command == "train-heads":
        return train_heads_command(arguments, argv)
    if arguments.command == "pseudo-label":
        return pseudo_label_command(arguments)
    name = f"{arguments.task}_{arguments.architecture}"
    run_directory = arguments.run_directory or DEFAULT_RUNS_DIRECTORY / name
    config = TrainingConfig(
        architecture=arguments.architecture,
        widths=arguments.widths,
        epochs=arguments.epochs,
        batch_size=arguments.batch_size,
        learning_rate=arguments.learning_rate,
        schedule=arguments.schedule,
        label_smoothing=arguments.label_smoothing,
        seed=arguments.seed,
        threads=arguments.threads,
        teachers=[str(path) for path in arguments.teacher],
        distillation_weight=arguments.distillation_weight,
        distillation_temperature=arguments.distillation_temperature,
        weight_averaging=arguments.weight_averaging,
        initial_weights=str(arguments.initial_weights or ""),
        auxiliary_weight=arguments.auxiliary_weight,
        augmentation=AugmentationRanges(rotation_degrees=arguments.rotation_degrees),
        camera_effects=camera_effects(arguments),
        normalization=arguments.normalization,
        vote_weight=1.0 if arguments.task == "age" else arguments.vote_weight,  # age's targets are its votes
        selection=arguments.selection,
        group_balance=arguments.group_balance,
        source_balance=arguments.source_balance,
        expectation_weight=arguments.expectation_weight,
    )
    data = training_data(arguments)
    best_checkpoint = train(data, config, run_directory, arguments.epochs_now)
    if (
        arguments.epochs_now
        and json.loads((run_directory / "log.jsonl").read_text().splitlines()[-1])["epoch"] < config.epochs
    ):
        logging.info("stopped after --epochs-now %d; the same command resumes", arguments.epochs_now)
        return 0
    command = "python -m face_affect.training " + shlex.join(argv)
    output = arguments.output or default_output(arguments.task, arguments.architecture)
    export_and_report(
        arguments.task,
        arguments.architecture,
        best_checkpoint,
        data,
        output,
        command,
        arguments.flip_average,
        arguments.child_recall,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
