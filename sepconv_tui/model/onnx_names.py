"""Which PyTorch module each node of an exported ONNX file came from.

``torch.onnx.export(…, dynamo=True)`` records on every node the name scopes it was traced in
(``pkg.torch.onnx.name_scopes``: the root, the module path, then the op), and ONNX Runtime's
quantizer keeps them on the nodes it quantizes; OpenVINO's counters and the quantizer's errors
name nodes, so this is how they are shown under the names a user knows. onnx is imported
inside the function.
"""

from __future__ import annotations

import ast
from pathlib import Path

#: The node metadata that holds the name scopes.
NAME_SCOPES = "pkg.torch.onnx.name_scopes"


def module_names(path: str | Path) -> dict[str, str]:
    """ONNX node name → the module it came from ("layer1.0.conv1"); nodes without recorded
    name scopes (added by a later tool, or the root's own ops) are left out."""
    import onnx

    names = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        scopes_text = next(
            (prop.value for prop in node.metadata_props if prop.key == NAME_SCOPES), None
        )
        if not scopes_text:
            continue
        try:
            scopes = ast.literal_eval(scopes_text)
        except (ValueError, SyntaxError):
            continue
        # ['', 'layer1', '0', 'conv1', 'conv2d_3']: the root, the module path, then the op.
        parts = [str(part) for part in scopes[1:-1] if part]
        if parts:
            names[node.name] = ".".join(parts)
    return names
