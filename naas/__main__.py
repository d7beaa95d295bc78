"""``python -m naas`` and the ``naas`` command: pin BLAS first, then run the command line."""
import sys


def run() -> None:
    """The ``naas`` console script: ``reproducible()`` before numpy loads, then ``naas.cli.main``."""
    from cost_model.blas_kernels import reproducible

    reproducible()
    from .cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
