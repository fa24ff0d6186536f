"""bindscape.report: tables + figures -> one self-contained HTML report per run.

    from bindscape.report import Report, figures
    r = Report(title="bindscape run: demo", command="bindscape run demo.yaml")
    sec = r.section("Evaluation")
    sec.metrics({"auROC": 0.91, "auPRC": 0.55})
    sec.figure(figures.roc_curves({"model": (fpr, tpr, 0.91)}), caption="Test-set ROC")
    r.write("runs/demo/report.html")

`figures` (matplotlib, logomaker) is imported lazily, so importing this package stays cheap.
"""

from __future__ import annotations

from bindscape.report.html import Report, Section, markdown

__all__ = ["Report", "Section", "markdown", "figures"]


def __getattr__(name):
    if name == "figures":
        import importlib

        return importlib.import_module("bindscape.report.figures")
    raise AttributeError(f"module 'bindscape.report' has no attribute {name!r}")
