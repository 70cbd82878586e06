"""The `vcs` command: one group, and the sub-commands each module of this package defines."""

from __future__ import annotations

import sys

import click

from vcs.cli import (
    attendance,
    certificates,
    install,
    livestream,
    mail,
    members,
    planning,
    reach,
    serving,
    staff,
)
from vcs.cli.base import VcsGroup


@click.group(cls=VcsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vcs")
def cli() -> None:
    """vcs: videoconference series of a network of municipal youth workers.

    Settings come from config/default.toml, the file in VCS_CONFIG and VCS_* variables.
    """


for command in (
    install.init,
    install.demo,
    serving.serve,
    serving.web,
    serving.scheduler,
    serving.jobs,
    planning.series,
    planning.sessions,
    livestream.livestream,
    livestream.google,
    reach.google_calendar,
    reach.bounces,
    members.members,
    attendance.attendance,
    certificates.certificates,
    staff.staff,
    mail.outbox,
    mail.mail_group,
    mail.digest,
    install.backup,
    install.restore,
):
    cli.add_command(command)


def main() -> None:
    # A VcsError becomes a `vcs: ` line in VcsGroup.invoke.
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
