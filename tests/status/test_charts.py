"""Chart geometry: round axes, gaps where no sample was taken, ticks on local time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.status import charts

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (20, 20), (480, 500)]
)
def test_axis_maximum_is_round(value: float, ceiling: float) -> None:
    assert charts.nice_ceiling(value) == ceiling


@pytest.mark.parametrize(
    ("peak", "labels"), [(3, "0 1 2 3 4 5"), (17, "0 5 10 15 20"), (2, "0 1 2")]
)
def test_y_ticks_are_whole_counts(peak: int, labels: str) -> None:
    chart = charts.line_chart(
        [START, START + timedelta(hours=1)], [charts.Series("in", "in", [0, peak])], zone=UTC
    )
    assert " ".join(t.label for t in chart.y_ticks) == labels


def test_line_has_a_gap_where_no_sample_was_taken() -> None:
    starts = [START + timedelta(hours=i) for i in range(5)]
    chart = charts.line_chart(
        starts, [charts.Series("overdue", "bad", [1, 2, None, 4, 5])], zone=UTC
    )
    (line,) = chart.lines
    assert line.path.count("M") == 2 and line.path.count("L") == 2
    assert line.total == 12
    # The highest point touches the top of the plot, zero its bottom.
    ys = [float(p.split(",")[1]) for p in line.path.replace("M", " ").replace("L", " ").split()]
    assert max(ys) < chart.bottom and min(ys) == pytest.approx(
        chart.bottom - (chart.bottom - chart.top) * 5 / 5
    )
    assert len(chart.slots) == 5 and "overdue —" in chart.slots[2].title


def test_week_ticks_fall_on_local_midnights() -> None:
    zone = ZoneInfo("America/Chicago")
    starts = [START + timedelta(hours=i) for i in range(7 * 24)]
    chart = charts.line_chart(starts, [charts.Series("in", "in", [1] * len(starts))], zone=zone)
    assert chart.x_ticks, "a week has day ticks"
    for tick in chart.x_ticks:
        moment = starts[
            round((tick.at - chart.left) / ((chart.right - chart.left) / (len(starts) - 1)))
        ]
        assert moment.astimezone(zone).hour == 0
        assert tick.label == moment.astimezone(zone).strftime("%b %d")


def test_day_ticks_show_hours() -> None:
    starts = [START + timedelta(hours=i) for i in range(25)]
    chart = charts.line_chart(starts, [charts.Series("in", "in", [0] * 25)], zone=UTC)
    assert [t.label for t in chart.x_ticks][:3] == ["00:00", "04:00", "08:00"]


def test_bars_are_as_tall_as_their_share_of_the_axis() -> None:
    chart = charts.bar_chart(["a", "b", "c"], [10, 5, 0], ["ok", "warn", "bad"])
    a, b, c = chart.bars
    assert a.height == pytest.approx(2 * b.height) and c.height == 0
    assert a.y + a.height == pytest.approx(chart.bottom)
    assert [t.label for t in chart.y_ticks][-1] == "10"


def test_labels_at_the_ends_stay_inside() -> None:
    assert charts.anchor(charts.Tick(charts.LEFT + 1, "x"), charts.LEFT, 592) == "start"
    assert charts.anchor(charts.Tick(590, "x"), charts.LEFT, 592) == "end"
    assert charts.anchor(charts.Tick(300, "x"), charts.LEFT, 592) == "middle"
