"""Sphinx configuration of the sso-toolkit documentation (``make docs``).

The build is offline: no intersphinx inventories, no remote images, nothing fetched. The three
notebooks of ``notebooks/`` are copied into ``docs/_notebooks/`` (ignored by git) before the
build and executed there by myst-nb, so their plots are made by the code being documented; the
tables of ``guides/data-formats`` are generated from :mod:`ephemerides.schemas` by the local
extension ``_ext/schema_tables.py``.
"""

import filecmp
import logging
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))  # the packages, also where the project is not installed

project = "sso-toolkit"
author = "the sso-toolkit developers"
copyright = "the sso-toolkit developers"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "schema_tables",
]

# Sources: Markdown (MyST), reStructuredText and the copied notebooks.
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# API reference: autosummary writes one page per object into api/generated/ (ignored by git).
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpy-style docstrings give types and units
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# Notebooks: executed at build time (their committed copies have no outputs). "cache" keeps
# the outputs in docs/_build/.jupyter_cache and re-executes a notebook only when its code
# changed; SSO_DOCS_EXECUTE=force re-executes them all (e.g. after a change to the library).
nb_execution_mode = os.environ.get("SSO_DOCS_EXECUTE", "cache")
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "furo"
html_title = "sso-toolkit"
html_static_path = []
html_show_sourcelink = False


def copy_notebooks(notebooks: Path = ROOT / "notebooks", target: Path = DOCS / "_notebooks"):
    """Copy ``notebooks/*.ipynb`` into ``target``, touching only the files that changed (so that
    Sphinx's incremental build re-reads only those), and drop copies of removed notebooks."""
    target.mkdir(exist_ok=True)
    sources = {path.name: path for path in sorted(notebooks.glob("*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in sources:
            stale.unlink()
    for name, path in sources.items():
        copy = target / name
        if not copy.is_file() or not filecmp.cmp(path, copy, shallow=False):
            shutil.copyfile(path, copy)


def use_this_python_for_notebooks(folder: Path = DOCS / "_build" / "jupyter"):
    """Make the notebooks' ``python3`` kernel this interpreter's: a kernelspec for
    ``sys.executable`` written into ``folder`` and put first on ``JUPYTER_PATH``, so that no other
    ``python3`` kernelspec on the machine (e.g. in the user's Jupyter folder) runs them instead."""
    from ipykernel.kernelspec import write_kernel_spec

    spec = folder / "kernels" / "python3"
    shutil.rmtree(spec, ignore_errors=True)
    spec.parent.mkdir(parents=True, exist_ok=True)
    write_kernel_spec(spec)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(folder), *filter(None, [os.environ.get("JUPYTER_PATH")])])


copy_notebooks()
use_this_python_for_notebooks()


# Furo's dependency accessible-pygments configures the root logger at INFO when it is imported
# (during the build): import it now and put the level back to WARNING, so that the build log
# shows Sphinx's messages rather than every library's INFO lines (SPICE, the notebook kernels).
try:
    import a11y_pygments  # noqa: F401
except ImportError:
    pass
logging.getLogger().setLevel(logging.WARNING)
