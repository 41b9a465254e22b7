"""Package-level promises: the public API, and no heavy imports on `import tether`."""

import subprocess
import sys

import tether


def test_public_api_names_resolve():
    for name in tether.__all__:
        assert getattr(tether, name) is not None, name


def test_import_does_not_pull_heavy_libraries():
    code = "import sys, tether, tether.cli; print(sorted(m for m in ('torch', 'vllm', 'ray', 'transformers', 'pandas', 'math_verify', 'reasoning_gym', 'datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
