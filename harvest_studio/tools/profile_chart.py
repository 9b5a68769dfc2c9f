"""A run profile's interactive Gantt chart (Bokeh): one row per span, coloured by kind, the
critical path outlined, a tooltip per bar, zoom and pan along time. Saved or shown with
BokehJS inline — no CDN, so it works offline and on Binder (the ``analysis`` extra)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Protocol

from ..model.errors import UsageError


class _Span(Protocol):
    name: str
    kind: str
    start: float
    end: float
    seq: int

    @property
    def seconds(self) -> float: ...


class RunProfile(Protocol):
    """What the chart needs of a run's profile (``tools.profile.RunProfile`` has it)."""

    run_id: str
    workflow_type: str
    status: str
    duration: float
    spans: Any
    critical_path: Any

COLOURS = {"work": "#4c8bf5", "queue": "#f5b94c", "backoff": "#e35d5d", "timer": "#9b7fe3",
           "signal": "#5cc7a0", "child": "#7cc784", "workflow": "#b0b7c3"}
ROW_PIXELS = 22


def _bokeh() -> Any:
    try:
        import bokeh
    except ImportError:
        raise UsageError(
            "the interactive Gantt chart needs Bokeh: pip install 'harvest-studio[analysis]'"
        ) from None
    return bokeh


class GanttChart:
    """An interactive Gantt chart of a run's profile: ``figure`` (the Bokeh figure),
    ``html()`` (a standalone page with BokehJS inline), ``save(path)``; shows itself in a
    notebook (in a frame of its own, so it needs no notebook extension)."""

    def __init__(self, profile: RunProfile) -> None:
        _bokeh()
        self.profile = profile
        self.figure = _figure(profile)

    def html(self) -> str:
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        title = f"{self.profile.workflow_type} {self.profile.run_id}"
        page: str = file_html(self.figure, INLINE, title=title)
        return page

    def save(self, path: str | Path) -> Path:
        """Write the chart as one HTML file that opens offline."""
        target = Path(path).expanduser()
        if not target.parent.is_dir():
            raise UsageError(f"no directory {str(target.parent)!r}")
        target.write_text(self.html(), encoding="utf-8")
        return target

    def _repr_html_(self) -> str:
        height = self.figure.height + 20
        return (f'<iframe class="hs-gantt" srcdoc="{html.escape(self.html(), quote=True)}" '
                f'style="width:100%;height:{height}px;border:0"></iframe>')

    def __repr__(self) -> str:
        return f"<GanttChart of {self.profile.run_id}: {len(self.profile.spans)} spans>"


def _figure(profile: RunProfile) -> Any:
    from bokeh.models import ColumnDataSource, DataRange1d, FactorRange, HoverTool
    from bokeh.plotting import figure

    rows = sorted(profile.spans, key=lambda s: (s.start, s.seq))
    critical = {id(s) for s in profile.critical_path}
    labels = [f"{i + 1:>3}  {s.name}" for i, s in enumerate(rows)]
    source = ColumnDataSource({
        "row": labels,
        "name": [s.name for s in rows],
        "kind": [s.kind for s in rows],
        "start": [s.start for s in rows],
        "end": [s.end for s in rows],
        "seconds": [s.seconds for s in rows],
        "colour": [COLOURS[s.kind] for s in rows],
        "outline": ["#111111" if id(s) in critical else None for s in rows],
        "critical": ["yes" if id(s) in critical else "no" for s in rows],
    })
    fig = figure(
        y_range=FactorRange(factors=list(reversed(labels)) or [""]),
        x_range=DataRange1d(start=0),
        height=max(180, ROW_PIXELS * len(rows) + 110),
        sizing_mode="stretch_width",
        x_axis_label="seconds since the run started",
        tools="xpan,xwheel_zoom,reset,save",
        active_scroll="xwheel_zoom",
        title=(f"{profile.workflow_type} {profile.run_id} ({profile.status}), "
               f"{profile.duration:.3f} s; outlined: the critical path"),
        toolbar_location="above",
    )
    bars = fig.hbar(y="row", left="start", right="end", height=0.7, source=source,
                    fill_color="colour", line_color="outline", line_width=2,
                    legend_field="kind")
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[
        ("span", "@name"), ("kind", "@kind"), ("from", "@start{0.000} s"),
        ("to", "@end{0.000} s"), ("took", "@seconds{0.000} s"), ("critical", "@critical"),
    ]))
    legend = fig.legend[0]
    legend.orientation = "horizontal"
    fig.add_layout(legend, "below")  # inside the frame it would hide the last bars
    fig.ygrid.grid_line_color = None
    return fig
