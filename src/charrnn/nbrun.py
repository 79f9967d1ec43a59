"""papermill as the Makefile runs it: ``python -m charrnn.nbrun [papermill's arguments]``.

Ctrl-C works like Jupyter's stop button. papermill's kernel runs in a session of its own
(jupyter_client starts it with ``start_new_session``), so a terminal's Ctrl-C reaches papermill
only, which shuts the kernel down while the cell still runs: the kernel's reply then meets
closed sockets (a ZMQError traceback). Here the first Ctrl-C interrupts the kernel and papermill
waits for the cell to end (``02_train`` saves its checkpoint first), then prints one line and
exits with 130; a second Ctrl-C stops papermill at once. A cell that ends in ``ValueError``
(charrnn's one-sentence refusals: a bad parameter, a folder in use) prints that sentence in one
line and exits 1; any other error shows papermill's traceback.

An idle kernel is shut down without jupyter_client's interrupt-before-shutdown: that SIGINT
can land while the kernel finishes its reply to papermill's last ``kernel_info_request``, and
ipykernel then logs ``KeyboardInterrupt caught in kernel``.
"""

import os
import signal
import sys

_kernels = []  # the kernel managers papermill made
_ctrl_c = {"count": 0, "output": None, "ready": False}  # ready: the kernel runs cells


def _interrupt(signum, frame) -> None:
    _ctrl_c["count"] += 1
    if _ctrl_c["count"] > 1:
        raise KeyboardInterrupt
    print("papermill: stopping the notebook at the end of its step (Ctrl-C again: at once)",
          file=sys.stderr, flush=True)
    for km in _kernels if _ctrl_c["ready"] else []:  # a starting kernel dies of SIGINT
        pgid = getattr(km.provisioner, "pgid", None)
        if km.has_kernel and pgid:
            os.killpg(pgid, signal.SIGINT)


if __name__ == "__main__":  # before the slow imports below
    signal.signal(signal.SIGINT, _interrupt)

from jupyter_client import AsyncKernelManager  # noqa: E402
from papermill.cli import papermill  # noqa: E402
from papermill.engines import NBClientEngine, papermill_engines  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402


class _KernelManager(AsyncKernelManager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        _kernels.append(self)

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down and _ctrl_c["count"] < 2:  # no cell runs: no SIGINT needed
            return
        await super()._async_interrupt_kernel()


def _stop_if_interrupted(cell, cell_index) -> None:  # a Ctrl-C between two cells
    if _ctrl_c["count"]:
        raise KeyboardInterrupt


def _executing(cell, cell_index) -> None:
    _ctrl_c["ready"] = True


#: The kernel's own log shows errors only: its warning that a local kernel talks over TCP without
#: encryption (printed by every notebook, on loopback) is not the user's to act on.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class _Engine(NBClientEngine):
    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        _ctrl_c["output"] = nb_man.output_path
        return super().execute_managed_notebook(nb_man, kernel_name,
                                                kernel_manager_class=_KernelManager,
                                                on_cell_start=_stop_if_interrupted,
                                                on_cell_execute=_executing,
                                                extra_arguments=KERNEL_ARGUMENTS, **kwargs)


def main(argv: list[str] | None = None) -> int:
    papermill_engines.register("charrnn", _Engine)
    try:
        papermill.main(["--engine", "charrnn", *(sys.argv[1:] if argv is None else argv)],
                       prog_name="papermill")
    except PapermillExecutionError as err:
        where = f"; executed copy: {_ctrl_c['output']}" if _ctrl_c["output"] else ""
        if not _ctrl_c["count"]:
            if err.ename != "ValueError":  # a bug: papermill's whole traceback
                raise
            # charrnn's refusals (bad parameters, a folder in use, ...) are one sentence
            print(f"papermill: error in cell [{err.exec_count}]: {err.evalue}{where}",
                  file=sys.stderr)
            return 1
        print(f"papermill: interrupted in cell [{err.exec_count}]: {err.ename}: {err.evalue}{where}",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
