"""The documentation site's coverage, checked without building it (``python
docs/build.py`` builds it, with the doctests and the gallery: CI runs that)."""

import ast
import re
import sys
from pathlib import Path

import symgraph.backend as K

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import symgraph_api  # noqa: E402  (docs/_ext: importable without Sphinx)


def _conf_value(name: str):
    tree = ast.parse((DOCS / "conf.py").read_text())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"docs/conf.py sets no {name}")


def test_every_backend_function_has_a_reference_page():
    modules = {getattr(K, n).__module__ for n in symgraph_api.backend_public()}
    missing = modules - set(symgraph_api.BACKEND_GROUPS)
    assert not missing, f"add to BACKEND_GROUPS (docs/_ext/symgraph_api.py): {missing}"


def test_every_other_public_name_is_on_a_reference_page():
    text = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    named = set(re.findall(r"^\.\. auto\w+:: ([\w.]+)", text, flags=re.M))
    # ``:members: a, b`` of a directive documents its target's members a and b
    for target, members in re.findall(r"^\.\. auto\w+:: ([\w.]+)\n   :members: ([\w, \n]+?)"
                                      r"(?=\n\S|\n\n|\n   :)", text, flags=re.M):
        named |= {f"{target}.{m.strip()}" for m in members.split(",") if m.strip()}
    missing = [n for n in symgraph_api.public_names()
               if not n.startswith("symgraph.backend.") and n not in named]
    assert not missing, f"public names on no page of docs/api/: {missing}"


def test_every_example_runs_in_the_gallery():
    configured = _conf_value("gallery_examples")
    scripts = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
    assert sorted(configured) == scripts, "docs/conf.py gallery_examples vs examples/"
    assert all(isinstance(args, list) for args in configured.values())
