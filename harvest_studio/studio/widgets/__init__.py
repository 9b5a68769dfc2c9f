"""anywidget front ends (the history explorer and the run card) with their vendored ES
modules in ``studio/static/``. Nothing is imported here, so importing the package stays
cheap; import :mod:`.explorer` or :mod:`.card` for the widgets (they need ``anywidget``)."""
