"""A second thread of the test process, for tests that a thread id is not a
cluster process."""

import contextlib
import threading


@contextlib.contextmanager
def running_thread():
    """Start a thread that waits; yield its kernel thread id while it runs."""
    ready = threading.Event()
    done = threading.Event()
    tid = []

    def run():
        tid.append(threading.get_native_id())
        ready.set()
        done.wait()

    t = threading.Thread(target=run)
    t.start()
    try:
        ready.wait()
        yield tid[0]
    finally:
        done.set()
        t.join()
