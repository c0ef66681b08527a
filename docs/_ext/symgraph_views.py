"""The interactive HTML view (``symgraph.inspect.to_html``) embedded in the guides.

``symgraph-view NAME`` writes the view of one of the graphs in :data:`VIEWS` at build
time (so the page always shows what this version of symgraph draws) into
``_static/views/NAME.html`` and embeds it in an iframe, with a link to open it on its
own. Options: ``:height:`` (CSS, default ``640px``) and ``:caption:``.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def demo_mlp(path: str) -> None:
    """The demo MLP of ``symgraph demo``, with kernel times of one profiled batch."""
    import symgraph.backend as K
    from symgraph.demo import build_model
    from symgraph.inspect import to_html
    from symgraph.inspect.profile import profile

    x, _, _, probs, label = build_model()
    f = K.function([x], [probs, label], name="demo MLP")
    times = profile(f, [np.random.default_rng(0).random((256, 20), dtype=np.float32)])
    to_html(f, path, profile=times)


def training_step(path: str) -> None:
    """The demo MLP's training step (loss, gradients, SGD updates), opened as compiled."""
    import symgraph.backend as K
    from symgraph.demo import build_model
    from symgraph.inspect import to_html

    x, weights, _, probs, _ = build_model()
    y = K.placeholder(shape=(None, 4), name="y")
    with K.name_scope("loss"):
        loss = K.mean(K.categorical_crossentropy(y, probs))
    grads = K.gradients(loss, weights)
    step = K.function([x, y], [loss], name="training step",
                      updates=[K.update_sub(w, 0.1 * g) for w, g in zip(weights, grads)])
    to_html(step, path, compiled=True)


VIEWS = {"demo_mlp": demo_mlp, "training_step": training_step}


class View(SphinxDirective):
    required_arguments = 1
    option_spec = {"height": directives.unchanged, "caption": directives.unchanged}

    def run(self):
        import symgraph.backend as K

        name = self.arguments[0]
        if name not in VIEWS:
            logger.warning(f"symgraph-view: no view named {name!r} (known: {sorted(VIEWS)})",
                           location=self.get_location())
            return []
        folder = Path(self.env.srcdir) / "_generated" / "static" / "views"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        K.clear_session()
        VIEWS[name](str(folder / f"{name}.html"))
        K.clear_session()
        logger.info(f"symgraph_views: {name}.html in {time.perf_counter() - start:.1f} s")
        url = html.escape("../" * self.env.docname.count("/") + f"_static/views/{name}.html")
        height = html.escape(self.options.get("height", "640px"))
        caption = self.options.get("caption", "")
        tag = (f'<figure class="symgraph-view-figure"><iframe class="symgraph-view" '
               f'src="{url}" style="height: {height}" title="{html.escape(name)}" '
               f'loading="lazy"></iframe><figcaption>{html.escape(caption)} '
               f'<a href="{url}">Open it on its own page.</a></figcaption></figure>')
        return [nodes.raw("", tag, format="html")]


def setup(app):
    app.add_directive("symgraph-view", View)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
