"""`edgecv demo ARTIFACT --source ...`: live classification of a camera, video, image folder or stream."""
from __future__ import annotations

SOURCE_LOST_EXIT = 1  # a live source dropped for good, or a video that did not decode to its end (2: could not start)


def register(sub) -> None:
    from .args import positive_int

    p = sub.add_parser(
        "demo",
        help="classify a camera, video file, image folder or stream live, with an overlay",
        description="Classify every frame of --source with ARTIFACT (any file `edgecv bench` takes; its "
        "metadata's preprocessing, so the answers are bench's) and draw the top-k labels, a smoothed FPS and "
        "the inference ms on it. A window shows it (q quits, s saves a snapshot PNG in ~/.edgecv/snapshots, or $EDGECV_SNAPSHOTS), "
        "or --headless prints one line a second. Live sources (cameras, streams) drop stale frames so the "
        "picture never lags; video files and folders are processed frame by frame. A stream that drops is "
        "reconnected with backoff, a few times, before the demo ends (exit code 1). A summary ends every run.",
    )
    p.add_argument("artifact", help="the model file (.onnx, .tflite, an edgecv .pt, ...)")
    p.add_argument("--source", required=True, metavar="0|VIDEO|DIR|URL",
                   help="a camera index, a video file, a folder of images (sorted by name), or a stream URL "
                   "(rtsp://, http://...)")
    p.add_argument("--topk", type=positive_int, default=3, help="labels to show (default 3)")
    p.add_argument("--headless", action="store_true", help="no window: print a line a second and a summary")
    p.add_argument("--save", metavar="OUT.mp4", help="write the overlaid frames to this video (mp4v)")
    p.add_argument("--force", action="store_true", help="with --save: replace OUT.mp4 if it exists")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N classified frames")
    p.add_argument("--threads", type=positive_int, help="intra-op threads (default: the library's choice)")
    p.add_argument("--class-names", metavar="FILE", help="what the outputs are called (one name per line, or a JSON "
                   "list), instead of the artifact's own names (files exported without data have none)")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from edgecv.app import Predictor
    from edgecv.cli import UserError
    from edgecv.demo import DemoOptions, parse_source, run_demo
    from edgecv.demo.opencv import import_cv2
    from edgecv.utils.errors import first_line

    import_cv2()  # a missing OpenCV is reported before the model is loaded
    spec = parse_source(args.source)  # a missing file fails fast, before the model loads
    try:
        predictor = Predictor(args.artifact, threads=args.threads, class_names=args.class_names)
        stats = run_demo(predictor, spec, DemoOptions(topk=args.topk, window=not args.headless, save=args.save,
                                                      max_frames=args.max_frames, log=print if args.headless else None,
                                                      overwrite=args.force))
    except (UserError, ValueError, KeyError, FileNotFoundError, RuntimeError, ImportError):
        raise  # `main` prints these as one line
    except OSError as e:  # e.g. an artifact path that is a folder, a full disk
        raise UserError(first_line(e)) from None
    except Exception as e:  # a runtime's or OpenCV's own exception types: one line, no traceback
        raise UserError(f"edgecv demo failed: {first_line(e)}") from None
    print(stats.summary())
    if stats.saved:
        print(f"wrote {stats.saved}")
    return SOURCE_LOST_EXIT if stats.source_lost else 0
