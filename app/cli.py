"""Command line: ``flask --app wsgi user create|token``, ``db upgrade``, ``setup``, ``backup``, ``restore``.

What it prints is in the command line's language (``CUNBO_LANG=en``, else Chinese; app.i18n.cli_locale),
from the same catalogs as the pages. Help texts are read before the app exists, so they are Chinese.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext as _

import db
from db import backup as backups
from accounts import services as accounts
from accounts.roles import ADMIN, ROLES
from app.database import session_factory
from app.i18n import localized

user_cli = AppGroup("user", help="管理用户")
db_cli = AppGroup("db", help="数据库")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(user_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(setup_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@user_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", default=None, help="密码（只用 PIN 登录的农户可以不填；不填又需要时会问）")
@click.option("--display-name", default="", help="显示的名字，如 王大姐")
@click.option("--pin", default=None, help="农户的 4–6 位 PIN 码")
@click.option("--village", default="")
def create_user(name: str, role: str, password: str | None, display_name: str, pin: str | None, village: str) -> None:
    """Create a user NAME with ROLE (a farmer may have only a --pin)."""
    if password is None and accounts.needs_password(role, pin):
        password = click.prompt(_("密码"), hide_input=True, confirmation_prompt=True)
    with session_factory()() as session:
        try:
            accounts.create_user(
                session, name, role, password, display_name=display_name, pin=pin, village=village
            )
        except accounts.AccountError as exc:
            raise click.ClickException(localized(exc)) from exc
        session.commit()
    click.echo(_("已创建用户 %(name)s（%(role)s）", name=name, role=role))


@user_cli.command("token")
@click.argument("name")
@click.option("--label", default="cli")
def create_token(name: str, label: str) -> None:
    """Print a new API token for NAME, alone on the last line (it is shown only once)."""
    with session_factory()() as session:
        user = accounts.find_user(session, name)
        if user is None:
            raise click.ClickException(_("没有用户 %(name)s", name=name))
        token = accounts.issue_token(session, user, label)
        session.commit()
    click.echo(_("%(name)s 的 API 令牌（只显示这一次，请收好）：", name=name))
    click.echo(token)


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Apply every database migration (keeps existing data)."""
    db.upgrade(current_app.config["DATABASE_URL"])
    click.echo(_("数据库已是最新"))


@click.command("setup")
def setup_command() -> None:
    """Upgrade the database and create the first admin if there is none (printed once)."""
    db.upgrade(current_app.config["DATABASE_URL"])
    with session_factory()() as session:
        if accounts.count_admins(session):
            return
        password = secrets.token_urlsafe(9)
        accounts.create_user(session, "admin", ADMIN, password, display_name="管理员")
        session.commit()
    click.echo("=" * 60)
    click.echo(_("首次启动：已创建管理员账号"))
    click.echo("  " + _("用户名：%(name)s", name="admin"))
    click.echo("  " + _("密码：%(password)s", password=password))
    click.echo(_("请记下密码，它不会再显示"))
    click.echo("=" * 60)


@click.command("backup")
@with_appcontext
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="备份放在哪个文件夹（默认：数据文件夹里的 backups）")
def backup_command(target: Path | None) -> None:
    """Write a consistent snapshot of the database, settings and photos (safe while Cunbo runs)."""
    data_dir = Path(current_app.config["DATA_DIR"])
    try:
        summary = backups.backup(current_app.config["DATABASE_URL"], data_dir, target or data_dir / "backups")
    except backups.BackupError as exc:
        raise click.ClickException(localized(exc)) from exc
    click.echo(_("备份已写好：%(database)s，%(settings)d 个设置文件，%(photos)d 个照片文件",
                 database=summary.database, settings=summary.settings, photos=summary.photos))
    click.echo(str(summary.path))


@click.command("restore")
@with_appcontext
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接替换现在的数据")
def restore_command(archive: Path, yes: bool) -> None:
    """Replace the database, settings and photos with those of ARCHIVE (stop Cunbo first)."""
    if not yes:
        click.confirm(_("现在的数据会被备份里的替换，确定吗？"), abort=True)
    try:
        summary = backups.restore(current_app.config["DATABASE_URL"], Path(current_app.config["DATA_DIR"]), archive)
    except backups.BackupError as exc:
        raise click.ClickException(localized(exc)) from exc
    click.echo(_("已恢复：%(database)s，%(settings)d 个设置文件，%(photos)d 个照片文件",
                 database=summary.database, settings=summary.settings, photos=summary.photos))
