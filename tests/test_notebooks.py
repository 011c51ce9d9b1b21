"""The notebooks in notebooks/ are committed without outputs and run top to bottom without
errors (executed with nbclient on the ``python3`` kernel of the running interpreter)."""

import gc
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_ephemerides.ipynb", "02_association.ipynb", "03_linking.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    for cell in code:
        assert cell.get("outputs", []) == [], f"{path.name}: a cell has saved outputs"
        assert cell.get("execution_count") is None, f"{path.name}: a cell has an execution count"


@pytest.fixture(scope="module")
def kernel_manager(tmp_path_factory):
    """A kernel manager for this interpreter's own IPython kernel: a ``python3`` kernelspec
    written for ``sys.executable`` into a temporary folder, so that no other ``python3``
    kernelspec on the machine (e.g. in the user's Jupyter folder) is picked up instead."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(str(kernels / "python3"))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    assert specs.get_kernel_spec("python3").argv[0] == sys.executable
    return lambda: KernelManager(kernel_name="python3", kernel_spec_manager=specs)


# The kernel's zmq sockets may be garbage-collected unclosed after shutdown: not our concern.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, kernel_manager):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", km=kernel_manager(),
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    del client
    gc.collect()  # release the kernel's sockets inside this test, under its warning filters
