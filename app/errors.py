"""Error pages a person can act on, in their language, and JSON errors for /api."""
from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.api.errors import ApiError, error_code, json_error
from app.database import get_db
from app.i18n import translated
from app.security import is_api_request
from contests import errors as contest_errors


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("请求有误"), _("提交的内容不完整或格式不对，请返回重新填写。")),
        403: (_("没有权限"), _("您的账号不能做这件事。如需要，请联系村级服务站。")),
        404: (_("找不到页面"), _("这个页面不存在或已被删除。请点上方的“首页”。")),
        405: (_("操作方式不对"), _("请从页面上的按钮进行操作。")),
        413: (_("文件太大"), _("上传的文件超过大小限制，请换一个小一点的文件。")),
        429: (_("尝试次数过多"), _("请稍等几分钟再试。")),
        500: (_("系统出错了"), _("请稍后再试。如果一直出错，请联系村级服务站。")),
    }


# Most specific first: the first class a contest error is an instance of decides the status.
CONTEST_ERROR_STATUS: tuple[tuple[type[contest_errors.ContestError], int], ...] = (
    (contest_errors.NotFound, 404),
    (contest_errors.NotAllowed, 403),
    (contest_errors.Conflict, 409),
    (contest_errors.ContestError, 400),
)


def contest_status(exc: contest_errors.ContestError) -> int:
    """The HTTP status for a contest error (shared/api.md: 404 hides, 403 refuses, 409 conflicts)."""
    return next(status for cls, status in CONTEST_ERROR_STATUS if isinstance(exc, cls))


def contest_message(exc: contest_errors.ContestError) -> str:
    """The error in the person's language (label values such as 观看数 translated too)."""
    return translated(exc.msgid, exc.params)


def _page(status: int, detail: str | None = None) -> ResponseReturnValue:
    title, hint = _messages().get(status, _messages()[500])
    return render_template("errors/error.html", status=status, title=title, hint=detail or hint), status


def init_app(app: Flask) -> None:
    """Register handlers: JSON for /api, pages elsewhere."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> ResponseReturnValue:
        return json_error(exc.status, exc.message, **exc.extra)

    @app.errorhandler(contest_errors.ContestError)
    def contest_error(exc: contest_errors.ContestError) -> ResponseReturnValue:
        get_db().rollback()
        status = contest_status(exc)
        if is_api_request():
            return json_error(status, contest_message(exc), code=error_code(exc))
        return _page(status, contest_message(exc))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        if is_api_request():
            return json_error(400, _("CSRF 校验失败，请刷新页面后重试"))
        return _page(400, _("页面已过期，请刷新后重新提交。"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if is_api_request():
            title, _hint = _messages().get(status, (exc.name, ""))
            return json_error(status, title)
        return _page(status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error")
        if is_api_request():
            return json_error(500, _("系统出错了"))
        return _page(500)
