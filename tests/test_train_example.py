"""The training example trains: loss falls and accuracy ends far above chance."""

import importlib.util
import re
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "examples" / "train_mlp.py"


def test_train_mlp_example_learns(capsys):
    spec = importlib.util.spec_from_file_location("train_mlp", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    accuracy = module.main(["--epochs", "20"])
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", capsys.readouterr().out)]
    assert len(losses) == 20
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy > 0.9
