"""Plotly figures for the app, styled to stay readable in light and dark mode."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

#: Paul Tol's "muted" scheme, designed to stay distinct for colour-blind readers (+ pale grey)
CLASS_COLOURS = ["#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE",
                 "#882255", "#44AA99", "#999933", "#AA4499", "#BBBBBB"]
CLASS_SYMBOLS = [
    "circle",
    "square",
    "diamond",
    "cross",
    "x",
    "triangle-up",
    "triangle-down",
    "star",
    "hexagon",
    "pentagon",
]
SERIES = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"]


def style(fig: go.Figure, title: str, x: str, y: str, height: int = 420) -> go.Figure:
    """Transparent backgrounds and mid-grey text and grids: legible on white and on near-black."""
    grid = "rgba(128,128,128,0.25)"
    fig.update_layout(title=title, height=height, paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      font=dict(color="#8a8a8a"), legend=dict(bgcolor="rgba(0,0,0,0)"),
                      margin=dict(l=60, r=20, t=50, b=50))
    fig.update_xaxes(title_text=x, gridcolor=grid, zerolinecolor=grid)
    fig.update_yaxes(title_text=y, gridcolor=grid, zerolinecolor=grid)
    return fig


def class_scatter(xy: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str, x: str, y: str,
                  extra: Optional[list[go.Scatter]] = None) -> go.Figure:
    fig = go.Figure()
    for k, name in enumerate(class_names):
        m = labels == k
        fig.add_trace(go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", name=name,
                                   marker=dict(size=7, color=CLASS_COLOURS[k], symbol=CLASS_SYMBOLS[k], opacity=0.75),
                                   hovertemplate=f"{name}<extra></extra>"))
    for trace in extra or []:
        fig.add_trace(trace)
    return style(fig, title, x, y, height=520)


def lines(series: dict[str, tuple[np.ndarray, np.ndarray]], title: str, x: str, y: str, log_y: bool = False,
          height: int = 360) -> go.Figure:
    fig = go.Figure()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) < 60 else "lines", name=name,
                                 line=dict(color=SERIES[i % len(SERIES)], width=2)))
    fig = style(fig, title, x, y, height)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def bars(names: Sequence[str], values: Sequence[float], title: str, x: str, y: str, log_y: bool = False) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(names), y=list(values), marker_color=SERIES[0]))
    fig = style(fig, title, x, y, height=360)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def guidance(curves: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]]) -> go.Figure:
    """Per model, class accuracy (solid, left axis) and FID (dashed, right axis, log) against guidance strength."""
    fig = go.Figure()
    for i, (name, (g, acc, fid)) in enumerate(curves.items()):
        colour = SERIES[i % len(SERIES)]
        fig.add_trace(go.Scatter(x=g, y=acc, mode="lines+markers", name=f"{name}: class accuracy",
                                 line=dict(color=colour, width=2)))
        fig.add_trace(go.Scatter(x=g, y=fid, mode="lines+markers", name=f"{name}: FID", yaxis="y2",
                                 line=dict(color=colour, width=2, dash="dash"), marker=dict(symbol="square")))
    fig = style(fig, "Guidance strength: class accuracy (solid) and FID (dashed)", "guidance strength",
                "share drawn as the class asked for")
    fig.update_layout(yaxis=dict(range=[0, 1.05]),
                      yaxis2=dict(title="FID (log scale, lower is better)", overlaying="y", side="right", type="log",
                                  showgrid=False),
                      margin=dict(l=60, r=70, t=50, b=50), legend=dict(orientation="h", y=-0.25))
    return fig


def fooled(points: Sequence[tuple[str, float, float, float, float]], real: Optional[tuple[float, float, float]] = None
           ) -> go.Figure:
    """How often people were fooled, with its 95 % interval drawn, against FID: one point per model
    ``(title, fid, rate, low, high)``; ``real``: the false-alarm rate on real pictures ``(rate, low, high)``."""
    fig = go.Figure()
    for i, (name, fid, rate, lo, hi) in enumerate(points):
        fig.add_scatter(x=[fid], y=[rate], mode="markers+text", text=[name], textposition="top center", name=name,
                        error_y=dict(type="data", symmetric=False, array=[hi - rate], arrayminus=[rate - lo]),
                        marker=dict(size=12, color=SERIES[i % len(SERIES)]))
    if real is not None:
        fig.add_hline(y=real[0], line_dash="dot", annotation_text=f"real pictures judged generated: {real[0]:.0%}")
    fig = style(fig, "People fooled (generated pictures judged real) against FID", "FID (log scale)",
                "share of answers 'real' (95 % interval)")
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    fig.update_layout(showlegend=False)
    return fig
