"""Start-up paths stay free of torch (and the CLI free of Textual), checked in fresh processes."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_modules(code: str, *, full: bool = False) -> set[str]:
    """Run ``code`` in a fresh interpreter and return the top-level modules it loaded (every
    module's full name with ``full``)."""
    name = "m" if full else "m.split('.')[0]"
    probe = code + f"\nimport sys\nprint(' '.join(sorted({{{name} for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import sepconv_tui",
        "import sepconv_tui.core.analytic",
        "import sepconv_tui.core.measure",
        "from sepconv_tui import compare; compare(method='analytic')",
        "import sepconv_tui.report.layer, sepconv_tui.report.network, sepconv_tui.report.latency",
        "import sepconv_tui.report.model_table, sepconv_tui.report.model_export",
        "import sepconv_tui.report.model_cells, sepconv_tui.report.model_tab",
        "import sepconv_tui.model.describe.layer_spec",
        "import sepconv_tui.workers.model_server",
        "import sepconv_tui.model.workflow, sepconv_tui.report.fidelity",
        "import sepconv_tui.ipc.wire, sepconv_tui.workers.layer_messages",
        "import sepconv_tui.workers.model_messages",
        "from sepconv_tui import analyze_model, apply_plan, measure_fidelity, recover",
    ],
)
def test_core_loads_no_torch_and_no_textual(code: str) -> None:
    """The core and the report import neither torch nor Textual."""
    modules = loaded_modules(code)
    assert "torch" not in modules
    assert "textual" not in modules


def test_help_loads_no_torch_and_no_textual() -> None:
    """``sepconv-tui --help`` pays for neither torch nor the app."""
    code = (
        "import sys\nfrom sepconv_tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    modules = loaded_modules(code)
    assert "torch" not in modules and "textual" not in modules


#: The engine's measuring modules: the app receives their results as plain data classes.
MEASURING = (
    *("recovery.recover", "budget.tradeoff", "measure.data", "measure.fidelity", "build.swap"),
    *("describe.trace", "workflow", "measure.split", "measure.distributed", "speedup"),
    *("latency.bench", "latency.timing", "deploy.timers", "deploy.export"),
)


def test_the_app_loads_no_torch_and_none_of_the_measuring_code() -> None:
    """The app, the Model tab's view and its process client leave torch and the engine's
    measuring modules to the child process (their results arrive as torch-free data)."""
    code = (
        "import sepconv_tui.tui.app, sepconv_tui.tui.widgets.model.view, "
        "sepconv_tui.tui.model_process"
    )
    modules = loaded_modules(code, full=True)
    assert "torch" not in modules
    measuring = {f"sepconv_tui.model.{name}" for name in MEASURING}
    loaded = sorted(modules & (measuring | {"sepconv_tui.core.interval"}))
    assert not loaded, loaded


def test_public_api_names_the_workflow_and_loads_torch_only_on_use() -> None:
    """``from sepconv_tui import …`` names every step; the torch ones load it when touched."""
    import sepconv_tui

    for name in sepconv_tui.__all__:
        assert callable(getattr(sepconv_tui, name)), name
    assert "torch" not in loaded_modules("import sepconv_tui; sepconv_tui.analyze_model")
    assert "torch" in loaded_modules("import sepconv_tui; sepconv_tui.DepthwiseSeparableConv")
