"""The console's pages: importing a module registers its views on the console blueprint.

One import line per page module, each added by its page's owner (so the lines stay apart and
unsorted: hence the file-wide I001 exemption).
"""
# ruff: noqa: I001

from scheduler0.console.pages import signin  # noqa: F401
from scheduler0.console.pages import overview  # noqa: F401
from scheduler0.console.pages import job_detail  # noqa: F401
from scheduler0.console.pages import executions  # noqa: F401
from scheduler0.console.pages import admin  # noqa: F401
from scheduler0.console.pages import jobs  # noqa: F401
from scheduler0.console.pages import load  # noqa: F401
