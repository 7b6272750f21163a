"""Command line: ``flask --app wsgi user create|token``, ``db upgrade``, ``setup``, ``backup``, ``restore``."""
from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

import db
from db import backup as backups
from accounts import services as accounts
from accounts.roles import ADMIN, ROLES
from app.database import session_factory

user_cli = AppGroup("user", help="管理用户 (manage users)")
db_cli = AppGroup("db", help="数据库 (database)")


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
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", default="", help="显示的名字，如 王大姐")
@click.option("--pin", default=None, help="农户的 4–6 位 PIN 码")
@click.option("--village", default="")
def create_user(name: str, role: str, password: str, display_name: str, pin: str | None, village: str) -> None:
    """Create a user NAME with ROLE."""
    with session_factory()() as session:
        try:
            accounts.create_user(
                session, name, role, password, display_name=display_name, pin=pin, village=village
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    click.echo(f"已创建用户 {name} ({role})")


@user_cli.command("token")
@click.argument("name")
@click.option("--label", default="cli")
def create_token(name: str, label: str) -> None:
    """Print a new API token for NAME, alone on the last line (it is shown only once)."""
    with session_factory()() as session:
        user = accounts.find_user(session, name)
        if user is None:
            raise click.ClickException(f"没有用户 {name}")
        token = accounts.issue_token(session, user, label)
        session.commit()
    click.echo(f"API token for {name} (shown once, keep it safe):")
    click.echo(token)


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Apply every database migration (keeps existing data)."""
    db.upgrade(current_app.config["DATABASE_URL"])
    click.echo("数据库已是最新 (database is up to date)")


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
    click.echo("首次启动：已创建管理员账号 (first start: admin account created)")
    click.echo("  用户名 user name: admin")
    click.echo(f"  密码   password : {password}")
    click.echo("请记下密码，它不会再显示 (write it down, it is shown only once)")
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
        raise click.ClickException(str(exc)) from exc
    click.echo(f"备份已写好 (backup written): {summary.database}, {summary.settings} settings file(s), "
               f"{summary.photos} photo file(s)")
    click.echo(str(summary.path))


@click.command("restore")
@with_appcontext
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接替换现在的数据")
def restore_command(archive: Path, yes: bool) -> None:
    """Replace the database, settings and photos with those of ARCHIVE (stop Cunbo first)."""
    if not yes:
        click.confirm("现在的数据会被备份里的替换，确定吗？(the current data will be replaced)", abort=True)
    try:
        summary = backups.restore(current_app.config["DATABASE_URL"], Path(current_app.config["DATA_DIR"]), archive)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"已恢复 (restored): {summary.database}, {summary.settings} settings file(s), "
               f"{summary.photos} photo file(s)")
