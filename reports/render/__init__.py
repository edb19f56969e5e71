"""The renderers: each lays out a :class:`reports.model.ReportModel` for one medium and reads nothing else.

- ``terminal.render(model, console)``: rich tables on a console.
- ``markdown.render(model) -> str``: GitHub-flavoured Markdown.
- ``html.render(model) -> str``: one self-contained page with plots and a case browser.
- ``json.render(model) -> str``: the audit document itself, as JSON.
"""
