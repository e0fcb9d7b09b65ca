"""How every benchmark reports a figure: the median, with the spread over runs (the machine is noisy)."""
from __future__ import annotations

import statistics


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    fmt = f"{{:,.{digits}f}}"
    suffix = f" {unit}" if unit else ""
    return (f"median {fmt.format(statistics.median(values))}{suffix} (min {fmt.format(min(values))}, "
            f"max {fmt.format(max(values))}, n={len(values)})")


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(0, int(len(sorted_values) * fraction) - 1)]
