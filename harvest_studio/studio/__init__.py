"""Harvest Studio in Jupyter: the ``%harvest`` magics (:mod:`.magics`), the in-kernel worker
(:mod:`.kernel_worker`), display objects (:mod:`.display`) and the anywidget widgets
(:mod:`.widgets`)."""
