"""``python -m shiftlab_instructor``: see ``shiftlab_instructor.cli``."""

from .cli import main

if __name__ == "__main__":
    main()
