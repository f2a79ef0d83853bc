"""The CIFAR-10 study's plan: which parts run (the default, and `--all`'s broad table), with their recipes,
overrides and budgets. study.py runs them and reports."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = (HERE / ".." / ".." / ".." / "shared" / "data").resolve()
TEACHER_CKPT = SHARED / "teachers" / "resnet56-4bfd9763.th"
STUDENTS = ["cifar_mobilenetv3_small_100", "cifar_mobilenetv2_050", "cifar_squeezenet1_1"]  # cheapest to train first
BACKENDS = ["onnxruntime", "tflite"]
STUDENT_EPOCHS = 4       # per student, KD and labels-only alike (bf16 autocast, channels-last)
PRUNE_FINAL_EPOCHS = 3   # KD fine-tuning after the last pruning step (plus 1 epoch after each step)
# SqueezeNet has no batch norm and a ReLU on its logits: at the recipes' lr 0.1 (and under KD's larger early
# gradients even at 0.02) its last ReLU dies in the first steps and it stays at chance; a lower lr and clipped
# gradients keep it alive (KD and labels-only alike, so the comparison stays at equal settings)
STUDENT_OPTIM = {"cifar_squeezenet1_1": {"lr": 0.02, "grad_clip": 2.0}}


def broad_parts(args) -> list[dict]:
    """`--all`: the broad table of earlier rounds (every student at 4 epochs, both pruning targets, the
    ensemble): name, recipe, overrides (epochs scaled)."""
    def epochs(n: int) -> int:
        return max(1, round(n * args.scale))

    student_epochs, final_epochs = epochs(STUDENT_EPOCHS), epochs(PRUNE_FINAL_EPOCHS)

    common = [f"data.root={SHARED / 'cifar10'}"]
    common += [f"data.max_train={args.max_train}"] if args.max_train else []
    common += [f"data.max_val={args.max_val}"] if args.max_val else []
    teacher = [f"teacher.checkpoint={TEACHER_CKPT}"]
    # half the epochs replay the other half's batches: the first student's epochs show the cache's saving
    cache = [f"stages.distill.teacher_cache.dir={args.out / 'teacher_cache'}",
             f"stages.distill.teacher_cache.views={max(1, student_epochs // 2)}"]
    out = [{"name": "teacher", "recipe": "teacher.yaml", "set": common + teacher + [f"student.checkpoint={TEACHER_CKPT}"]}]
    for s in STUDENTS:
        optim = STUDENT_OPTIM.get(s, {})
        out.append({"name": f"kd-{s}", "recipe": "student_kd.yaml", "student": s,
                    "set": common + teacher + [f"student.name={s}", f"stages.distill.epochs={student_epochs}", *cache,
                                               *(f"stages.distill.{k}={v}" for k, v in optim.items())]})
        out.append({"name": f"ce-{s}", "recipe": "student_ce.yaml", "student": s,
                    "set": common + [f"student.name={s}", f"stages.train.epochs={student_epochs}",
                                     *(f"stages.train.{k}={v}" for k, v in optim.items())]})
    out.append({"name": "pruned-macs", "recipe": "prune_macs.yaml",
                "set": common + teacher + [f"student.checkpoint={TEACHER_CKPT}", f"stages.prune.final_epochs={final_epochs}",
                                           f"stages.prune.finetune.epochs={epochs(1)}"]})
    for b in BACKENDS:
        out.append({"name": f"pruned-latency-{b}", "recipe": "prune_latency.yaml", "backend": b,
                    "set": common + teacher + [f"student.checkpoint={TEACHER_CKPT}", f"stages.prune.backend={b}",
                                               f"stages.prune.latency_ratio={args.latency_fraction}", f"stages.export.to=[{b}]",
                                               f"stages.prune.final_epochs={final_epochs}",
                                               f"stages.prune.finetune.epochs={epochs(1)}"]})
    members = [f"teacher.members.0.checkpoint={SHARED / 'teachers' / 'resnet20-12fca82f.th'}",
               f"teacher.members.1.checkpoint={TEACHER_CKPT}"]
    out.append({"name": "ensemble", "recipe": "ensemble.yaml", "student": STUDENTS[0],
                "set": common + members + [f"student.name={STUDENTS[0]}", f"stages.distill.epochs={student_epochs}", *cache]})
    return out


# The default study: depth over breadth. Idle step times on the 2-core AMD EPYC (bf16 autocast, channels-last,
# 128 images): ResNet-56 0.43 s (its forward alone 0.10 s), ResNet-20 ~0.15 s, MobileNetV2-0.5 0.56 s. An epoch of
# 20,000 images is then ~70 s for the pruned teacher (KD, live teacher), ~40 s for ResNet-20, ~95 s for the
# MobileNet; the budget goes to the two candidates for 5x within 1 pt, one MobileNet trained long, and a two-seed
# KD-vs-labels comparison on 5,000 images.
# The TFLite candidate's MACs ratio comes from measured latency, not from a latency target measured in the run:
# in the study's TFLite INT8 rows (interleaved with the teacher), 0.47x MACs ran 4.42x the teacher's FP32 and 0.25x
# ran 6.35x, so ~0.40x is 5x and 0.37x leaves a margin. A latency target timed inside the pruning run was tried
# first and was not reliable on a shared 2-core VM: the unpruned model's p50 came out 1.549 ms in one run and
# 1.923 ms in the next, so the same `latency_ratio` 0.47 asked for 0.22x MACs once (a fit-aimed step overshot) and
# ~0.44x the other time.
PRUNE_TFLITE_MACS = 0.37
# The run in RESULTS.md used 20 recovery epochs and 15 MobileNet epochs and took ~105 minutes; these defaults are cut
# to fit 90 by its measured epoch times (~93 s pruned, ~125 s MobileNet), where its curves had flattened (pruned:
# 91.18 % at epoch 14 of 20, 91.58 % at 20) or were still climbing slowly (MobileNet: 80.7 % at 12)
PRUNE_RECOVERY_EPOCHS = 14     # KD epochs after the last pruning step (plus 1 after each of the 3 steps)
RESNET_KD_EPOCHS = 5           # the pretrained ResNet-20 fine-tuned by KD (low lr: it starts at 91.6 %)
MOBILENET = "cifar_mobilenetv2_050"
MOBILENET_EPOCHS = 12
COMPARE_IMAGES, COMPARE_EPOCHS, COMPARE_SEEDS = 5000, 6, (0, 1)
RESNET20_CKPT = SHARED / "teachers" / "resnet20-12fca82f.th"
DEPLOY_CANDIDATES = ["pruned-tflite", "kd-resnet20", f"kd-{MOBILENET}"]  # parts whose models the deploy pass builds
DEPLOY_PRETRAINED = ["cifar_resnet32"]  # RESULTS.md "Shipped models": the fastest pretrained one within 1 pt


def focus_parts(args) -> list[dict]:
    """The default parts, in order of what they answer: name, recipe, overrides (epochs scaled)."""
    def epochs(n: int) -> int:
        return max(1, round(n * args.scale))

    common = [f"data.root={SHARED / 'cifar10'}"]
    common += [f"data.max_train={args.max_train}"] if args.max_train else []
    common += [f"data.max_val={args.max_val}"] if args.max_val else []
    teacher = [f"teacher.checkpoint={TEACHER_CKPT}"]
    cache_dir = f"stages.distill.teacher_cache.dir={args.out / 'teacher_cache'}"  # keyed by data and seed inside
    out = [{"name": "teacher", "recipe": "teacher.yaml", "set": common + teacher + [f"student.checkpoint={TEACHER_CKPT}"]}]
    # candidate 1: the teacher pruned to the MACs that give ~5x in TFLite INT8 (global Taylor, channels rounded
    # to 8), in 3 steps with 1 KD epoch each, then long KD recovery
    out.append({"name": "pruned-tflite", "recipe": "prune_macs.yaml", "backend": "tflite", "long": True,
                "set": common + teacher + [f"student.checkpoint={TEACHER_CKPT}",
                                           f"stages.prune.macs_ratio={args.macs_fraction or PRUNE_TFLITE_MACS}",
                                           "stages.prune.steps=3", "stages.prune.finetune.epochs=1",
                                           f"stages.prune.final_epochs={epochs(PRUNE_RECOVERY_EPOCHS)}",
                                           "stages.export.to=[tflite,onnx]"]})
    # candidate 2: the pretrained ResNet-20 (5.1x in TFLite INT8 already, 1.3 pt short) fine-tuned by KD
    out.append({"name": "kd-resnet20", "recipe": "student_kd.yaml", "student": "cifar_resnet20", "long": True,
                "set": common + teacher + ["student.name=cifar_resnet20", f"student.checkpoint={RESNET20_CKPT}",
                                           f"stages.distill.epochs={epochs(RESNET_KD_EPOCHS)}", "stages.distill.lr=0.002",
                                           "stages.distill.warmup_epochs=0", "stages.distill.keep=last", cache_dir,
                                           f"stages.distill.teacher_cache.views={epochs(RESNET_KD_EPOCHS)}"]})
    # KD vs labels alone at equal budget, two seeds, on a subset
    for seed in COMPARE_SEEDS:
        subset = [f"data.root={SHARED / 'cifar10'}", f"data.max_val={args.max_val}"] if args.max_val else [f"data.root={SHARED / 'cifar10'}"]
        subset += [f"data.max_train={min(COMPARE_IMAGES, args.max_train or COMPARE_IMAGES)}", f"seed={seed}",
                   f"student.name={MOBILENET}"]
        n = epochs(COMPARE_EPOCHS)
        out.append({"name": f"compare-kd-s{seed}", "recipe": "compare_kd.yaml", "student": MOBILENET, "seed": seed,
                    "set": subset + teacher + [f"stages.distill.epochs={n}", cache_dir,
                                               f"stages.distill.teacher_cache.views={max(1, n // 2)}"]})
        out.append({"name": f"compare-ce-s{seed}", "recipe": "compare_ce.yaml", "student": MOBILENET, "seed": seed,
                    "set": subset + [f"stages.train.epochs={n}"]})
    # one MobileNet trained long: cached teacher, CutMix on half the batches (the teacher labels the mixed images)
    n = epochs(MOBILENET_EPOCHS)
    out.append({"name": f"kd-{MOBILENET}", "recipe": "student_kd.yaml", "student": MOBILENET, "long": True,
                "set": common + teacher + [f"student.name={MOBILENET}", f"stages.distill.epochs={n}",
                                           "stages.distill.keep=last", "stages.distill.cutmix=1.0",
                                           "stages.distill.mix_prob=0.5", cache_dir,
                                           f"stages.distill.teacher_cache.views={max(1, n // 3)}"]})
    return out


def parts(args) -> list[dict]:
    """The default parts, then (`--all`) the broad table's, minus the ones the default already has."""
    focus = focus_parts(args)
    if not args.all:
        return focus
    # the default's MobileNetV2-0.5 (trained long) stands in for the broad one and its 4-epoch labels-only twin
    names = {p["name"] for p in focus} | {f"ce-{MOBILENET}"}
    return focus + [p for p in broad_parts(args) if p["name"] not in names]
