"""``python -m shiftlab.explorer [--port N]``: serve the explorer app with Voila (see ``serve``)."""

from .serve import main

main()
