"""`python -m papercoder` runs the command line."""

from papercoder.cli import main

if __name__ == "__main__":
    main()
