"""``python -m naas`` and the ``naas`` command: pin BLAS first, then run the command line."""
import sys


def run() -> None:
    """The ``naas`` console script: ``reproducible()`` before numpy loads, then ``naas.cli.main``."""
    for stream in (sys.stdout, sys.stderr):  # a path that is not UTF-8 (surrogate escapes) prints as its bytes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    try:
        from cost_model.blas_kernels import reproducible

        reproducible()
        from .cli import main
    except KeyboardInterrupt:  # Ctrl-C while the modules load: nothing ran yet
        print("naas: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())


if __name__ == "__main__":
    run()
