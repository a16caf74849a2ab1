"""The balance-and-limit chart: an inline SVG drawn on the server, so no script or CDN is needed."""

import math
from datetime import datetime
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 96, 16, 14, 34

Series = list[tuple[datetime, Decimal]]


def balance_chart(balances: Series, limits: Series, *, until: datetime, currency: str) -> Markup:
    """Balance and limit as step lines from the first balance to ``until``, with a labelled money axis."""
    start = balances[0][0]
    span = max((until - start).total_seconds(), 1e-3)  # a ledger under a second old still spans the width
    values = [float(v) for _, v in balances + limits] + [0.0]
    ticks = _nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]

    def x(when: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (when - start).total_seconds() / span

    def y(value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (high - float(value)) / (high - low)

    def steps(series: Series) -> str:
        points, previous = [], None
        for when, value in series:
            if previous is not None:
                points.append((x(when), y(previous)))
            points.append((x(when), y(value)))
            previous = value
        points.append((x(until), y(previous)))
        return " ".join(f"{px:.1f},{py:.1f}" for px, py in points)

    grid = "".join(
        f'<line class="grid{" zero" if t == 0 else ""}" x1="{LEFT}" x2="{WIDTH - RIGHT}"'
        f' y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        f'<text class="axis" x="{LEFT - 8}" y="{y(t) + 4:.1f}" text-anchor="end">{escape(_label(t))}</text>'
        for t in ticks)
    # Over a day or two the dates alone would read the same at both ends: show the time too.
    when = "%d %b %Y" if span > 2 * 86400 else "%d %b %H:%M UTC"
    first, last = start.strftime(when), until.strftime(when)
    dates = (f'<text class="axis" x="{LEFT}" y="{HEIGHT - 10}">{first}</text>'
             f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">{last}</text>')
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">'
        f'<title id="chart-title">Balance and credit limit in {escape(currency)}, '
        f'over the last {len(balances)} ledger entries</title>'
        f'{grid}{dates}'
        f'<polyline class="limit" points="{steps(limits)}"/>'
        f'<polyline class="balance" points="{steps(balances)}"/>'
        '</svg>')


def _nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round axis values (1, 2, 2.5 or 5 times a power of ten) covering low..high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step) * step, math.ceil(high / step) * step
    if last == high:  # headroom, so the highest line does not run along the top edge
        last += step
    return [first + i * step for i in range(round((last - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"
