"""The "take it with you" part of a :class:`~.panel.StepPanel`: copy as code, save report.

Split from :mod:`.panel` (its widgets and evaluation); :class:`TakeawayMixin` reads the panel's
``source``, ``outcome``, ``options``, ``values()`` and its ``saved`` widget.
"""
from __future__ import annotations

from .outcome import error_html

__all__ = ["TakeawayMixin"]


class TakeawayMixin:
    """Copy as code and save report, for a panel (see :mod:`.takeaway`)."""

    def code(self) -> str:
        """Python that rebuilds and simulates the current knob setting (:mod:`.takeaway`)."""
        from ..errors import ConfigError
        if self.source is None:
            raise ConfigError("copy as code: this panel was not made by %%step or explore() "
                              "(expected a panel with a source)")
        values = self.outcome.values if self.outcome is not None else self.values()
        return self.source.code(values, self.options)

    def _code_html(self) -> str:
        from .takeaway import code_box_html
        if self.source is None:
            return ""
        try:
            return code_box_html(self.code())
        except Exception as exc:  # shown in the box; the panel stays usable
            return code_box_html(f"# {exc}")

    def save_report(self, path=None):
        """Write the standalone HTML report of the current result (the CLI's
        ``simulate --report`` page plus the code); default ``step_lab_report_<name>.html`` in
        the working directory (the notebook's folder). Returns the absolute path."""
        from .takeaway import report_name, save_report
        if path is None:
            name = self.outcome.program.name if self.outcome and self.outcome.program else "panel"
            path = report_name(name)
        code = ""
        if self.source is not None:
            try:
                code = self.code()
            except Exception:  # the report stays useful without the code
                code = ""
        return save_report(self.outcome, self.options, path, code=code)

    def _on_save(self) -> None:
        import html
        self.saved.value = "<i style='color:#777'>writing…</i>"
        try:
            path = self.save_report()
        except Exception as exc:  # shown next to the button
            self.saved.value = error_html(f"save report: {exc}")
            return
        self.saved.value = (f"<span class='step-lab-saved'>saved to <code>{html.escape(str(path))}"
                            "</code></span>")
