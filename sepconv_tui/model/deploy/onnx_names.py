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
#: ONNX ops whose second input is a module's weight.
WEIGHTED = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})


def module_names(path: str | Path) -> dict[str, str]:
    """ONNX node name → the module it came from ("layer1.0.conv1"): a conv or matmul by its
    weight's name, any other node by its recorded name scopes; nodes with neither (added by a
    later tool, or the root's own ops) are left out. A node's output
    tensor names map to its module too (where no node has that name): OpenVINO names some of
    the nodes it builds after the tensor they write ("linear" for the Gemm "node_linear")."""
    import onnx

    names: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        # A weighted node is its weight's module: the exporter's optimiser folds a batch norm
        # into the conv before it and leaves the batch norm's scopes on the fused node, while
        # the weight keeps its name ("layer1.0.conv1.weight", or "…weight_DequantizeLinear…"
        # once quantized).
        weight = node.input[1] if node.op_type in WEIGHTED and len(node.input) > 1 else ""
        if ".weight" in weight:
            names[node.name] = weight.split(".weight")[0]
            outputs.update(dict.fromkeys(node.output, names[node.name]))
            continue
        scopes_text = next(
            (prop.value for prop in node.metadata_props if prop.key == NAME_SCOPES), None
        )
        if not scopes_text:
            continue
        try:
            scopes = ast.literal_eval(scopes_text)
        except (ValueError, SyntaxError):
            continue
        # ['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d_3']: the root, each enclosing
        # module's full path, then the op; the innermost module is the one before the op.
        if len(scopes) >= 3 and scopes[-2]:
            names[node.name] = str(scopes[-2])
            outputs.update(dict.fromkeys(node.output, str(scopes[-2])))
    return {**outputs, **names}
