"""Functions a test sends to a sidecar (the child imports them from this folder)."""
import os
import warnings


def pid():
    return os.getpid()


def die_unless(parent_pid):
    """Ends the process abruptly, except in the parent: a child that dies mid-call."""
    if os.getpid() != parent_pid:
        os._exit(3)
    return "computed in the parent"


def warn_and_return(value):
    warnings.warn("a warning from the work", UserWarning)
    return value


def fail_in_child(parent_pid):
    if os.getpid() != parent_pid:
        raise RuntimeError("only the child fails")
    return "computed in the parent"


def die_saying(parent_pid, words):
    """Says why on stderr, then ends abruptly, except in the parent."""
    import sys

    if os.getpid() != parent_pid:
        print(words, file=sys.stderr, flush=True)
        os._exit(3)
    return "computed in the parent"
