"""The app's key map, written once: the bindings, the help screen's table and the docs' table.

Plain data (no Textual at import): ``Key.binding`` builds the Textual ``Binding`` when a widget
class is defined, ``help_table`` writes the help screen's table and ``docs/app.md``'s
(``tests/test_keys.py`` checks that the three agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    """One binding: Textual's key names (comma-separated), its action, its footer label."""

    keys: str
    action: str
    description: str = ""
    show: bool = True
    priority: bool = False

    def binding(self) -> Binding:
        """This key as a Textual Binding."""
        from textual.binding import Binding

        return Binding(
            self.keys, self.action, self.description, show=self.show, priority=self.priority
        )


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    """Textual Bindings for a widget class's BINDINGS."""
    return [key.binding() for key in keys]


#: The key that shows each tab (its footer label is the tab's title).
TAB_KEYS = {"layer": "f2", "network": "f3", "sweep": "f4", "latency": "f5", "model": "f6"}


def show_tab_key(tab_id: str, title: str) -> Key:
    """The key of TAB_KEYS that shows tab ``tab_id``."""
    return Key(TAB_KEYS[tab_id], f"show_tab('{tab_id}')", title, show=False)


#: The app's own keys (the tab keys are added from TAB_KEYS).
APP_KEYS = (
    Key("ctrl+q", "quit", "Quit", priority=True),
    # Tab and shift+Tab move the focus here, in the app's queue, before the next key is
    # forwarded: run by the field instead (Screen's binding), a key forwarded to the new
    # field meanwhile (a digit) overtook the keys re-sent from the old one (a Backspace).
    Key("tab", "focus_next", show=False, priority=True),
    Key("shift+tab", "focus_previous", show=False, priority=True),
    Key("q", "quit", "Quit", show=False),
    Key("f1", "help", "Help"),
    Key("question_mark", "help", "Help", show=False),
    Key("ctrl+r", "reference", "Reference"),
    Key("ctrl+l", "toggle_link", "Link geometry"),
    Key("e", "export", "Export"),
    Key("b", "bench", "Bench"),
    Key("escape", "escape", "Results / cancel"),
)

#: A number field of the Layer tab's form.
FORM_KEYS = (
    Key("up", "step(1)", "+1", show=False),
    Key("down", "step(-1)", "−1", show=False),
    Key("shift+up", "scale(2)", "×2", show=False),
    Key("shift+down", "scale(0.5)", "÷2", show=False),
)

#: The Model tab's table: moving and the selection.
MODEL_TABLE_KEYS = (
    Key("home", "scroll_top", "First row", show=False),
    Key("end", "scroll_bottom", "Last row", show=False),
    Key("space", "swap('toggle')", "Swap row"),
    Key("a", "swap('all')", "All"),
    Key("n", "swap('none')", "None"),
    Key("s", "swap('saving')", "Saving"),
    Key("t", "swap('top:10')", "Top 10"),
)

#: The Model tab: what runs on the selection.
MODEL_VIEW_KEYS = (
    Key("f", "fidelity", "Fidelity"),
    Key("r", "recover('reconstruct')", "Recover"),
    Key("R", "recover('distill')", "Distill", show=False),
    Key("g", "pick", "Frontier"),
    Key("l", "layers", "Per layer", show=False),
    Key("u", "cycle_runtime", "Runtime", show=False),
    Key("p", "cycle_precision", "Precision", show=False),
    Key("x", "latency_axis", "Latency axis", show=False),
    Key("m", "cycle_multiplier", "m", show=False),
    Key("plus,equals_sign", "multiplier(1)", "m+1", show=False),
    Key("minus", "multiplier(-1)", "m-1", show=False),
    # Only while g's frontier is browsed (the view's check_action hides them else, footer
    # included): the table keeps them then.
    Key("left", "frontier_step(-1)", "Less saved", priority=True),
    Key("right", "frontier_step(1)", "More saved", priority=True),
    Key("enter", "frontier_apply", "Apply point's m", priority=True),
)

#: The help screen's own keys.
HELP_KEYS = (Key("escape,f1,question_mark,q", "dismiss", "Close help"),)

#: Keys the app answers without a binding of its own, and what answers them.
UNBOUND_KEYS = {
    "ctrl+p": "Textual's command palette",
}


@dataclass(frozen=True)
class HelpRow:
    """One row of the key tables: the keys as shown, the words, and Textual's key names."""

    shown: str
    brief: str
    #: The docs' fuller words (the brief ones when empty).
    detail: str = ""
    names: tuple[str, ...] = ()
    #: False: in the docs only (the help screen keeps to what a user needs at once).
    in_help: bool = True


HELP_ROWS = (
    HelpRow(
        "F2 … F6",
        "Layer / Network / Sweep / Latency / Model tab",
        names=tuple(TAB_KEYS.values()),
    ),
    HelpRow(
        "enter (Model tab)",
        "in a field: analyse the model; on the table: open the conv in the Layer tab",
        "in a field: analyse the model; on the table: open the conv in the Layer tab (square "
        "geometry; else it says why not)",
        names=("enter",),
    ),
    HelpRow(
        "space a n s t",
        "on the Model table: swap the row / all / none / those saving params / top 10",
        "on the Model table: swap the row / all / none / those saving params (the default) / "
        "the top 10 by MACs saved",
        names=("space", "a", "n", "s", "t"),
    ),
    HelpRow(
        "home / end (Model table)",
        "first / last row",
        names=("home", "end"),
        in_help=False,
    ),
    HelpRow(
        "+ / - (Model table)",
        "the row's depth multiplier m one up / down (figures follow at once)",
        "the row's depth multiplier m one up / down (= works as +); params, MACs and the "
        "weight error follow at once",
        names=("plus", "equals_sign", "minus"),
    ),
    HelpRow(
        "m (Model table)",
        "the whole selection at m = 1, then 2, then auto:0.9 (needs the weights)",
        "the whole selection at m = 1, then 2, then `auto:0.9` (each layer's smallest m keeping "
        "90% of ‖W‖²; needs the weights)",
        names=("m",),
    ),
    HelpRow(
        "f (Model table)",
        "the selection's fidelity on the Data's held-out part, overall and per layer",
        "fidelity of the selection on the Data field's test split (the last fifth): accuracy "
        "or top-1 agreement and output error, original → swapped; Out err / Net err per layer",
        names=("f",),
    ),
    HelpRow(
        "r / R (Model table)",
        "recover the selection: reconstruct / reconstruct, then distill (R draws its "
        "validation curve)",
        "recover the selection: reconstruct (least squares per block) / reconstruct, then "
        "distill; the summary shows each stage (and, with the `[deploy]` extra, the checked "
        "`swapped.onnx`); after `R`, distillation's validation curve (loss and agreement at "
        "each check, the kept step marked) is drawn in the chart's place",
        names=("r", "R"),
    ),
    HelpRow(
        "g (Model table)",
        "the sensitivity and its frontier: per-layer m under the 99% agreement budget",
        "measure (or reuse) the sensitivity (each candidate alone at each m, on validation) and "
        "draw its frontier (per-layer m, the least loss per MAC saved), at the point keeping "
        "≥ 99% validation agreement; see [budgets](budgets.md)",
        names=("g",),
    ),
    HelpRow(
        "← / → / enter (after g)",
        "along the frontier: less / more saved; enter applies the point's per-layer m",
        "along the frontier: less / more saved, the point's per-layer m and figures in the "
        "status line; enter swaps its layers at its m (escape stops)",
        names=("left", "right"),
    ),
    HelpRow(
        "l (Model table)",
        "time each conv against its block at the runtime · precision: Speed-up, Bound",
        "time each candidate conv against its block, alone at its input, on the runtime at "
        "the precision (a child process; escape cancels): a measured `Speed-up` column (▼: far "
        "below its MAC ratio), beside it the roofline bound on the speed-up (`Bound`) and, "
        "last, the `Efficiency` (bound time ÷ measured, conv / block), as `bench "
        "--per-layer` shows them (this "
        "machine's limits are measured once, a few seconds, then cached); the selection's "
        "predicted whole-model speed-up in the summary; after g, each rung of the frontier "
        "is timed too (fp32), so every point says the seconds it saves",
        names=("l",),
    ),
    HelpRow(
        "u / p (Model table)",
        "the runtime / the precision l times at (the status line names both)",
        "the runtime `l` times on: eager → eager channels-last → ONNX Runtime (the `[deploy]` "
        "extra) → OpenVINO (the `[openvino]` extra; a runtime not installed says what it "
        "needs); the precision `l` times at: those the runtime runs (ONNX Runtime fp32, int8; "
        "OpenVINO fp32, bf16, int8). `u` keeps the precision where the new runtime runs it, "
        "else fp32 again, and says so",
        names=("u", "p"),
    ),
    HelpRow(
        "x (Model table)",
        "the trade-off chart against measured latency instead of MACs (after g and l)",
        "the trade-off chart against each prefix's predicted latency (from `l`) instead of "
        "MACs, and back; after `g` and `l`",
        names=("x",),
    ),
    HelpRow(
        "Device (Model tab)",
        "where f, r/R and g run: cpu, cuda or auto",
        "the field where `f`, `r`/`R` and `g` run: `cpu` (empty), `cuda` or `auto`; one that "
        "cannot run here is named under the field",
    ),
    HelpRow(
        "b",
        "time both sides of the current layer (Latency tab); Model tab: every runtime × precision",
        "time both sides of the current layer (Latency tab); on the Model tab, the model and "
        "its selected swap in every runtime × precision cell this machine can run (as `bench "
        "--runtime all --precision all`): the matrix under the table, in the MACs chart's "
        "place (absent cells say why), "
        "each side's best deployment and what the swap buys against the original's best; "
        "with data, each cell's two models measured on its test split (an Agreement column) "
        "and the levers said in words, as `bench --data`",
        names=("b",),
    ),
    HelpRow("tab / shift+tab", "next / previous field", names=("tab", "shift+tab")),
    HelpRow("up / down", "step the focused number by 1", names=("up", "down")),
    HelpRow(
        "shift+up / shift+down",
        "double / halve it (the natural move for channel counts)",
        names=("shift+up", "shift+down"),
    ),
    HelpRow("ctrl+l", "link / unlink the separable block's geometry", names=("ctrl+l",)),
    HelpRow("ctrl+r", "back to the reference experiment", names=("ctrl+r",)),
    HelpRow(
        "escape",
        "cancel a benchmark, f, r, g or l; else leave the text field (then e, b, q and ? work)",
        "cancel a running benchmark, fidelity, recovery, trade-off or layer timing; else leave "
        "the text field (then `e`, `b`, `q`, `?` work); on the help screen, close it",
        names=("escape",),
    ),
    HelpRow(
        "e",
        "export what the tab shows into the working directory (after r: the recovered model too)",
        "export what the tab shows as Markdown and JSON into the working directory; the Model "
        "tab adds the CSV, the plan, the fidelity, after `l` the per-layer timings "
        "(`-layers.json`, as `bench --per-layer --json` writes them), after `b` the matrix "
        "(`-bench.json`, as `bench --runtime all --precision all --json` writes it) and, after "
        "`r`, the "
        "recovered model's folder (`swapped.pt`, `swapped.onnx`, `plan.json`, `fidelity.json`: "
        "what `sepconv-tui fidelity --swapped` reads)",
        names=("e",),
    ),
    HelpRow(
        "F1 or ?",
        "this help (escape closes it)",
        "help: keys, the formulas with the current numbers, the verdict explained (escape, F1, "
        "? or q closes it)",
        names=("f1", "question_mark"),
    ),
    HelpRow(
        "ctrl+p",
        "command palette: every action and the presets",
        "command palette: every action and the presets (layers of published networks)",
        names=("ctrl+p",),
    ),
    HelpRow(
        "ctrl+q (or q outside a text field)",
        "quit",
        names=("ctrl+q", "q"),
    ),
)


def help_table(*, docs: bool = False) -> str:
    """The key table in Markdown: the help screen's brief one, or the docs' (``docs=True``)."""
    lines = ["| Key | Does |", "|---|---|"]
    for row in HELP_ROWS:
        if docs:
            lines.append(f"| {row.shown} | {row.detail or row.brief} |")
        elif row.in_help:
            lines.append(f"| {row.shown} | {row.brief} |")
    return "\n".join(lines) + "\n"


def bound_keys() -> set[str]:
    """Every key name a binding of the app, its tabs, the form, the Model tab or help takes."""
    groups = (APP_KEYS, FORM_KEYS, MODEL_TABLE_KEYS, MODEL_VIEW_KEYS, HELP_KEYS)
    names = {name for group in groups for key in group for name in key.keys.split(",")}
    return names | set(TAB_KEYS.values())
