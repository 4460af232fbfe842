"""Shared by the Python baselines: run a timed method in a forked child, so that each
method's peak RSS (ru_maxrss) is its own and not the largest of all."""
import os
import pickle
import resource
import sys
import traceback


def peak_rss_gib(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 2**20


def in_child(work):
    """Run work() in a forked child and return its result; exit with the child's traceback
    if it raised, or with a message if it died."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            payload = ("ok", work())
        except BaseException:
            payload = ("error", traceback.format_exc())
        with os.fdopen(write_end, "wb") as pipe:
            pickle.dump(payload, pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        sys.exit("the child process died without a result")
    status, result = pickle.loads(data)
    if status != "ok":
        sys.exit(result)
    return result
