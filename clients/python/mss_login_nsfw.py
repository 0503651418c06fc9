"""Python client for the MSS-Login gateway's NSFW guard, for ComfyUI custom nodes.

The functions keep the names and parameters of the original MSS-Login's Python API
(``is_available``, ``check_tensor_nsfw``, ``check_image_path_nsfw``, ...), but the work is done
by the gateway in front of ComfyUI: this module only speaks HTTP to it. It needs nothing but
the Python standard library (3.9+); numpy and Pillow are imported only by the two functions
that take tensors or images, and only when they are called.

Configuration, read at the first call (or set with :func:`configure`):

``MSS_LOGIN_URL``
    The gateway's address (default ``http://127.0.0.1:8189``), with its base path if it has one.
``MSS_LOGIN_TOKEN``
    An API token of a gateway account (created on the account page or with the CLI). Checks
    on behalf of another user (``username=...``, or :func:`set_user_context`) need an
    administrator's token with the ``admin`` scope; a user's token can check for that user only.
``MSS_LOGIN_TIMEOUT``
    Seconds to wait for one answer (default 60: a check may wait for the classifier).

Failing closed: whenever a check cannot be made (gateway unreachable, bad token, classifier
stopped, an image it cannot read, ...), the check functions answer "block" (``True``) unless the
user is known not to be checked, as the original did ("default to BLOCK"). Callers who prefer
exceptions call ``configure(raise_errors=True)``: every failure then raises
:class:`NsfwGuardError` instead.

The token is sent only in the ``Authorization`` header to the configured address: redirects are
not followed, proxies from the environment are not used, and the token appears in no message,
log line or ``repr``.

Full documentation: ``docs/nsfw-guard-api.md`` in the gateway's repository.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import io
import json
import logging
import mimetypes
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping as _MappingType
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

__all__ = [
    "NsfwGuardError",
    "configure",
    "is_available",
    "is_sfw_enforced_for_user",
    "check_tensor_nsfw",
    "check_pil_image_nsfw",
    "check_image_path_nsfw",
    "check_image_path_nsfw_fast",
    "set_image_nsfw_tag",
    "get_image_nsfw_tag",
    "clear_image_nsfw_tag",
    "clear_all_nsfw_tags",
    "set_user_context",
    "get_current_user",
    "user_context",
]

__version__ = "1.0.0"

DEFAULT_URL = "http://127.0.0.1:8189"
DEFAULT_TIMEOUT = 60.0
API = "/mss-login/api/nsfw"

#: ComfyUI's three file folders, and the environment variables naming them outside ComfyUI.
FOLDER_ENV = {"output": "COMFYUI_OUTPUT_DIR", "input": "COMFYUI_INPUT_DIR", "temp": "COMFYUI_TEMP_DIR"}
FILE_TYPES = ("output", "input", "temp")

#: Images larger than this (either side, in pixels) are scaled down before they are sent: the
#: classifier looks at 224 x 224 pixels, and the gateway refuses images above its pixel limit.
MAX_SIDE = 2048

log = logging.getLogger("mss_login_nsfw")

#: What callers may pass as an image's path: a filesystem path, ``(type, subfolder, filename)``,
#: or a mapping with those keys (ComfyUI's own image references, as in ``executed`` outputs).
ImagePath = Union[str, "os.PathLike[str]", Tuple[str, str, str], Mapping[str, Any]]
FileRef = Tuple[str, str, str]


class NsfwGuardError(Exception):
    """A request to the gateway failed (raised only after ``configure(raise_errors=True)``).

    ``status`` is the HTTP status (None when the gateway was not reached) and ``code`` the
    gateway's error code (e.g. ``"ADMIN_ONLY"``, ``"NSFW_CHECK_APPLIES"``, ``"AUTH_REQUIRED"``).
    """

    def __init__(self, message: str, status: Optional[int] = None, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class _Settings:
    __slots__ = ("url", "token", "timeout", "raise_errors")

    def __init__(self, url: str, token: Optional[str], timeout: float, raise_errors: bool) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self.raise_errors = raise_errors

    def __repr__(self) -> str:  # never the token itself
        token = "<set>" if self.token else "<none>"
        return f"_Settings(url={self.url!r}, token={token}, timeout={self.timeout!r}, raise_errors={self.raise_errors!r})"


_settings_lock = threading.Lock()
_settings: Optional[_Settings] = None
_current_user: "contextvars.ContextVar[Optional[str]]" = contextvars.ContextVar("mss_login_nsfw_user", default=None)


def _clean_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("the gateway's URL must be http(s)://host:port[/base-path]")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put no credentials in the gateway's URL: use the token")
    if parts.query or parts.fragment:
        raise ValueError("the gateway's URL takes no query or fragment")
    return url


def _positive_timeout(value: Any) -> float:
    timeout = float(value)
    if not timeout > 0:
        raise ValueError("the timeout must be a positive number of seconds")
    return timeout


def _from_environment() -> _Settings:
    timeout = os.environ.get("MSS_LOGIN_TIMEOUT", "").strip()
    return _Settings(
        url=_clean_url(os.environ.get("MSS_LOGIN_URL", "").strip() or DEFAULT_URL),
        token=os.environ.get("MSS_LOGIN_TOKEN", "").strip() or None,
        timeout=_positive_timeout(timeout) if timeout else DEFAULT_TIMEOUT,
        raise_errors=False,
    )


def _current_settings() -> _Settings:
    global _settings
    with _settings_lock:
        if _settings is None:
            _settings = _from_environment()
        return _settings


def configure(
    url: Optional[str] = None,
    token: Optional[str] = None,
    timeout: Optional[float] = None,
    raise_errors: Optional[bool] = None,
) -> None:
    """Sets the gateway's address, the API token, the timeout (seconds) and the error style.

    Arguments left at None keep their value (initially from ``MSS_LOGIN_URL``,
    ``MSS_LOGIN_TOKEN`` and ``MSS_LOGIN_TIMEOUT``). ``raise_errors=True`` makes every function
    raise :class:`NsfwGuardError` when the gateway cannot answer, instead of failing closed.
    Pass ``token=""`` to forget a token.
    """
    global _settings
    current = _current_settings()
    updated = _Settings(
        url=_clean_url(url) if url is not None else current.url,
        token=(token.strip() or None) if token is not None else current.token,
        timeout=_positive_timeout(timeout) if timeout is not None else current.timeout,
        raise_errors=bool(raise_errors) if raise_errors is not None else current.raise_errors,
    )
    with _settings_lock:
        _settings = updated


# --- HTTP ----------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it could carry the token to another address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


# No proxies from the environment (the token would travel through them), no redirects.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def _request(
    method: str,
    path: str,
    query: Optional[Mapping[str, str]] = None,
    json_body: Optional[Mapping[str, Any]] = None,
    data: Optional[bytes] = None,
    content_type: Optional[str] = None,
) -> Dict[str, Any]:
    """One request to the gateway; its JSON answer, or NsfwGuardError."""
    settings = _current_settings()
    url = settings.url + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {"Accept": "application/json", "User-Agent": f"mss-login-nsfw-python/{__version__}"}
    if settings.token:
        headers["Authorization"] = "Bearer " + settings.token
    if json_body is not None:
        data = json.dumps(json_body).encode("utf-8")
        content_type = "application/json"
    if data is None and method in ("POST", "PUT"):
        data = b""
    if content_type is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    where = f"{method} {path}"
    try:
        with _opener.open(request, timeout=settings.timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        status, code, message = error.code, None, error.reason
        try:
            body = json.loads(error.read() or b"null")
            if isinstance(body, dict):
                code = body.get("code") if isinstance(body.get("code"), str) else None
                message = body.get("error") if isinstance(body.get("error"), str) else message
        except (ValueError, OSError, http.client.HTTPException):
            pass
        finally:
            error.close()
        raise NsfwGuardError(f"{where}: {status} {code or ''} {message}".replace("  ", " ").strip(), status=status, code=code) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise NsfwGuardError(f"{where}: the gateway at {settings.url} did not answer ({reason})") from None
    try:
        body = json.loads(raw)
    except ValueError:
        raise NsfwGuardError(f"{where}: the answer is not JSON (is {settings.url} the MSS-Login gateway?)") from None
    if not isinstance(body, dict):
        raise NsfwGuardError(f"{where}: unexpected answer")
    return body


def _raise_errors() -> bool:
    try:
        return _current_settings().raise_errors
    except Exception:  # noqa: BLE001 - a bad MSS_LOGIN_URL or MSS_LOGIN_TIMEOUT: fail closed, quietly
        return False


def _failed(error: BaseException, fallback: Any, what: str) -> Any:
    """The fallback answer after a failure, or NsfwGuardError with raise_errors."""
    if _raise_errors():
        if isinstance(error, NsfwGuardError):
            raise error
        raise NsfwGuardError(f"{what}: {type(error).__name__}: {error}") from error
    log.warning("mss_login_nsfw: %s failed (%s); answering %r", what, error, fallback)
    return fallback


# --- the user context ---------------------------------------------------------------------


def _clean_user(username: Optional[str]) -> Optional[str]:
    """A user name without surrounding spaces; None for None, "" or a non-text value."""
    if isinstance(username, str) and username.strip():
        return username.strip()
    return None


def set_user_context(username: Optional[str]) -> None:
    """Sets the user whose policy applies to checks made without ``username`` (None clears it).

    The value belongs to the current thread or asyncio task (a ``contextvars`` variable): set it
    in the code that runs the checks, e.g. at the start of a node's function. Threads started
    later do not inherit it; asyncio tasks do (they copy the context when created).
    """
    _current_user.set(_clean_user(username))


def get_current_user() -> Optional[str]:
    """The user set by :func:`set_user_context` in this thread or task, or None."""
    return _current_user.get()


@contextlib.contextmanager
def user_context(username: Optional[str]) -> Iterator[None]:
    """``with user_context("alice"): ...``: the user context for a block, restored afterwards."""
    reset = _current_user.set(_clean_user(username))
    try:
        yield
    finally:
        _current_user.reset(reset)


def _subject(username: Optional[str]) -> Optional[str]:
    """The user a check is for: the one named, else the context user, else None (the token's account)."""
    return _clean_user(username) or get_current_user()


# --- availability and policy ------------------------------------------------------------


def is_available() -> bool:
    """Whether the gateway's classifier is loaded and running (``GET /mss-login/api/nsfw/status``).

    False when the gateway cannot be reached, the token is refused, an administrator stopped the
    classifier, or it has not loaded yet (``nsfw.load = on_demand`` loads it at the first need).
    Checks still work (and fail closed) whatever this says.
    """
    try:
        return _request("GET", API + "/status").get("available") is True
    except Exception as error:  # noqa: BLE001 - every failure answers "not available"
        return _failed(error, False, "is_available")


def _enforced(username: Optional[str]) -> bool:
    """The policy (raises on failure). None: the token's own account."""
    query = {"username": username} if username is not None else None
    return _request("GET", API + "/policy", query=query).get("enforced") is not False


def is_sfw_enforced_for_user(username: Optional[str] = None) -> bool:
    """Whether images are checked for this user (``GET /mss-login/api/nsfw/policy``).

    ``username`` None means the user of :func:`set_user_context`, or else the token's own
    account. Owners and administrators are never checked, guests always, users by their
    ``sfw_check`` flag; an unknown user is checked. Asking about another user needs an
    administrator's token. On any failure: True (fail closed).
    """
    try:
        return _enforced(_subject(username))
    except Exception as error:  # noqa: BLE001
        return _failed(error, True, "is_sfw_enforced_for_user")


def _enforced_after_failure(user: Optional[str], error: BaseException, what: str) -> bool:
    """After a failed check: block (True) unless the user is known not to be checked."""
    if _raise_errors():
        return _failed(error, True, what)
    log.warning("mss_login_nsfw: %s failed (%s); blocking unless the user is not checked", what, error)
    try:
        return _enforced(user)
    except Exception:  # noqa: BLE001
        return True


# --- checks of images in memory ---------------------------------------------------------


def _blocked_by(result: Mapping[str, Any], threshold: Optional[float]) -> bool:
    """An answer of POST /classify: Porn + Hentai above the threshold, or the gateway's own verdict."""
    if result.get("nsfw") is True:
        return True
    if threshold is None:
        return result.get("nsfw") is not False
    scores = result.get("scores")
    if not isinstance(scores, dict):
        return True
    try:
        explicit = float(scores.get("Porn", 0.0)) + float(scores.get("Hentai", 0.0))
    except (TypeError, ValueError):
        return True
    return explicit > threshold


def _check_bytes(data: bytes, content_type: Optional[str], threshold: Optional[float], user: Optional[str], what: str) -> bool:
    """Classifies bytes (``POST /classify``) and applies the policy of `user` (None: the token's account)."""
    try:
        if user is not None and not _enforced(user):
            return False
        result = _request("POST", API + "/classify", data=data, content_type=content_type or "application/octet-stream")
        if user is None and result.get("enforced") is False:
            return False
        return _blocked_by(result, threshold)
    except Exception as error:  # noqa: BLE001
        return _enforced_after_failure(user, error, what)


def _png_bytes(image: Any) -> bytes:
    """A PIL image as PNG bytes (scaled down to MAX_SIDE; the caller's image is not changed)."""
    width, height = image.size
    if max(width, height) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def check_pil_image_nsfw(image: Any, threshold: float = 0.5) -> bool:
    """True if a PIL image must not be shown to the current user.

    The image is sent as PNG to ``POST /mss-login/api/nsfw/classify``. True when the user is
    checked (the user of :func:`set_user_context`, else the token's account) and either the
    Porn + Hentai scores add up to more than ``threshold`` or the gateway's own thresholds block
    the image. Any failure (no gateway, not an image, Pillow missing, ...) answers True for a
    checked user (fail closed).
    """
    user = get_current_user()
    try:
        limit = float(threshold)
        data = _png_bytes(image)
    except Exception as error:  # noqa: BLE001
        return _enforced_after_failure(user, error, "check_pil_image_nsfw")
    return _check_bytes(data, "image/png", limit, user, "check_pil_image_nsfw")


def _tensor_to_pil(images_tensor: Any) -> Any:
    """The first image of a ComfyUI IMAGE batch (float [B,H,W,C], 0..1) as an 8-bit PIL image; None for an empty batch."""
    import numpy as np  # lazy: only this function needs numpy and Pillow
    from PIL import Image

    value = images_tensor
    if hasattr(value, "detach"):  # a torch tensor, on any device, in any float type
        value = value.detach().float().cpu().numpy()
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 4:
        if array.shape[0] == 0:
            return None
        array = array[0]
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ValueError(f"expected IMAGE [B,H,W,C] with C = 1, 3 or 4, got shape {tuple(np.shape(value))}")
    if array.size == 0:
        raise ValueError("the image has no pixels")
    pixels = np.clip(np.nan_to_num(array, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(pixels))


def check_tensor_nsfw(images_tensor: Any, threshold: float = 0.5) -> bool:
    """True if the batch must not be shown to the current user.

    As the original, the FIRST image of the batch stands for the whole batch: it is converted
    to 8 bits (numpy and Pillow, imported now) and checked as in :func:`check_pil_image_nsfw`.
    An empty batch answers False. Failures (numpy or Pillow missing, a tensor of another shape,
    no gateway, ...) answer True for a checked user (fail closed).
    """
    user = get_current_user()
    try:
        limit = float(threshold)
        image = _tensor_to_pil(images_tensor)
        if image is None:
            return False
        data = _png_bytes(image)
    except Exception as error:  # noqa: BLE001
        return _enforced_after_failure(user, error, "check_tensor_nsfw")
    return _check_bytes(data, "image/png", limit, user, "check_tensor_nsfw")


# --- files ---------------------------------------------------------------------------------


def _comfy_folders() -> Dict[str, str]:
    """ComfyUI's output, input and temp folders: from ``folder_paths`` inside ComfyUI, else the environment."""
    folders: Dict[str, str] = {}
    try:
        import folder_paths  # type: ignore[import-not-found]  # ComfyUI's own module

        for kind in FILE_TYPES:
            getter = getattr(folder_paths, f"get_{kind}_directory", None)
            if callable(getter):
                folder = getter()
                if isinstance(folder, str) and folder:
                    folders[kind] = folder
    except Exception:  # noqa: BLE001 - not inside ComfyUI
        pass
    for kind, name in FOLDER_ENV.items():
        if kind not in folders and os.environ.get(name, "").strip():
            folders[kind] = os.environ[name].strip()
    return folders


def _inside(path: str, folder: str) -> Optional[str]:
    """`path` relative to `folder` with ``/`` separators, or None when it is not inside."""
    path = os.path.normpath(path)
    folder = os.path.normpath(folder)
    try:
        if os.path.normcase(os.path.commonpath([path, folder])) != os.path.normcase(folder):
            return None
    except ValueError:  # different drives, or relative against absolute
        return None
    relative = os.path.relpath(path, folder)
    if relative in (".", "") or relative.startswith(".."):
        return None
    return relative.replace(os.sep, "/")


def _split(relative: str) -> Tuple[str, str]:
    subfolder, _, filename = relative.rpartition("/")
    return subfolder, filename


def _file_ref(image_path: ImagePath) -> Optional[FileRef]:
    """ComfyUI's ``(type, subfolder, filename)`` for what the caller named; None for a file outside its folders."""
    if isinstance(image_path, _MappingType):
        kind = image_path.get("type") or "output"
        subfolder = image_path.get("subfolder") or ""
        filename = image_path.get("filename")
        if not isinstance(filename, str) or not isinstance(kind, str) or not isinstance(subfolder, str):
            raise ValueError("an image reference needs a filename (and optionally type and subfolder)")
        return kind, subfolder, filename
    if isinstance(image_path, tuple):
        if len(image_path) != 3 or not all(isinstance(part, str) for part in image_path):
            raise ValueError("an image reference tuple is (type, subfolder, filename)")
        return image_path  # type: ignore[return-value]
    path = os.fspath(image_path)
    if not isinstance(path, str) or path == "":
        raise ValueError("the image path must be a non-empty text path")
    absolute = os.path.abspath(os.path.expanduser(path))
    candidates = {absolute, os.path.realpath(absolute)}
    best: Optional[Tuple[int, FileRef]] = None
    for kind, folder in _comfy_folders().items():
        for folder_form in {os.path.abspath(folder), os.path.realpath(folder)}:
            for candidate in candidates:
                relative = _inside(candidate, folder_form)
                if relative is not None and (best is None or len(folder_form) > best[0]):
                    best = (len(folder_form), (kind, *_split(relative)))
    if best is not None:
        return best[1]
    # "output/sub/name.png": ComfyUI's own way of naming a file, when no such path exists here.
    reference = path.replace("\\", "/")
    kind, _, rest = reference.partition("/")
    if kind in FILE_TYPES and rest and not os.path.exists(path):
        return (kind, *_split(rest))
    return None


def _file_query(ref: FileRef) -> Dict[str, str]:
    kind, subfolder, filename = ref
    return {"type": kind, "subfolder": subfolder, "filename": filename}


def _read_file(image_path: ImagePath) -> Tuple[bytes, Optional[str]]:
    path = os.fspath(image_path)  # type: ignore[arg-type]
    with open(path, "rb") as handle:
        data = handle.read()
    return data, mimetypes.guess_type(path)[0]


def check_image_path_nsfw(image_path: ImagePath, username: Optional[str] = None) -> bool:
    """True if the file must not be shown to the user; classifies it if no verdict exists yet.

    A file in ComfyUI's output, input or temp folder is checked by the gateway as ``/view`` would
    check it (``GET /mss-login/api/nsfw/check``: the version ComfyUI serves now, manual tags
    first). Any other file is read and its bytes classified (``POST /classify``).
    ``image_path`` may also be ``(type, subfolder, filename)``, a mapping with those keys, or the
    text ``"output/sub/name.png"`` when no such path exists locally. ``username`` None: the user
    of :func:`set_user_context`, else the token's account. Failures answer True unless the user
    is known not to be checked.
    """
    user = _subject(username)
    try:
        ref = _file_ref(image_path)
        if ref is None:
            data, content_type = _read_file(image_path)
            return _check_bytes(data, content_type, None, user, "check_image_path_nsfw")
        query = _file_query(ref)
        if user is not None:
            query["username"] = user
        return _request("GET", API + "/check", query=query).get("allowed") is not True
    except Exception as error:  # noqa: BLE001
        return _enforced_after_failure(user, error, "check_image_path_nsfw")


def check_image_path_nsfw_fast(image_path: ImagePath, username: Optional[str] = None) -> Optional[bool]:
    """Like :func:`check_image_path_nsfw`, but never classifies: None when there is no verdict yet.

    Only files in ComfyUI's folders have stored verdicts (``GET /check?fast=1``); any other file
    answers None. Failures answer True unless the user is known not to be checked.
    """
    user = _subject(username)
    try:
        ref = _file_ref(image_path)
        if ref is None:
            return None
        query = _file_query(ref)
        query["fast"] = "1"
        if user is not None:
            query["username"] = user
        answer = _request("GET", API + "/check", query=query)
        if answer.get("verdict") is None:
            return None
        return answer.get("allowed") is not True
    except Exception as error:  # noqa: BLE001
        return _enforced_after_failure(user, error, "check_image_path_nsfw_fast")


def _required_ref(image_path: ImagePath) -> FileRef:
    ref = _file_ref(image_path)
    if ref is None:
        raise NsfwGuardError("the file is not in ComfyUI's output, input or temp folder: the gateway keeps tags only for those")
    return ref


def set_image_nsfw_tag(image_path: ImagePath, is_nsfw: bool, score: float = 1.0, label: str = "manual") -> bool:
    """Records a person's verdict on a file (``PUT /mss-login/api/nsfw/tag``); True on success.

    The tag applies to the version of the file ComfyUI serves now and wins over the classifier.
    ``score`` and ``label`` are accepted for compatibility and ignored: the gateway stores a
    person's "NSFW" or "safe", answered later as score 1.0 / 0.0 with label ``"manual"``. Only
    the file's owner or an administrator may tag; a checked user may mark NSFW but not "safe".
    """
    try:
        answer = _request("PUT", API + "/tag", json_body={**_file_query(_required_ref(image_path)), "is_nsfw": bool(is_nsfw)})
        return isinstance(answer.get("verdict"), dict)
    except Exception as error:  # noqa: BLE001
        return _failed(error, False, "set_image_nsfw_tag")


def get_image_nsfw_tag(image_path: ImagePath) -> Optional[Dict[str, Any]]:
    """``{"is_nsfw", "score", "label"}`` for the file's current version, or None when there is no verdict.

    A person's tag answers label ``"manual"``; a classifier verdict answers whether the gateway's
    thresholds block it, the Porn + Hentai score and the top class in lower case (``"neutral"``,
    ``"drawing"``, ``"porn"``, ...). Failures answer None.
    """
    try:
        tag = _request("GET", API + "/tag", query=_file_query(_required_ref(image_path))).get("tag")
        if not isinstance(tag, dict):
            return None
        return {"is_nsfw": tag.get("is_nsfw") is True, "score": float(tag.get("score", 0.0)), "label": str(tag.get("label", ""))}
    except Exception as error:  # noqa: BLE001
        return _failed(error, None, "get_image_nsfw_tag")


def clear_image_nsfw_tag(image_path: ImagePath) -> bool:
    """Removes the person's tag and the classifier's verdicts on a file, which is then classified again.

    ``DELETE /mss-login/api/nsfw/tag``; True on success. Only the owner or an administrator may,
    and a checked user may not (that would lift a block).
    """
    try:
        return _request("DELETE", API + "/tag", query=_file_query(_required_ref(image_path))).get("cleared") is True
    except Exception as error:  # noqa: BLE001
        return _failed(error, False, "clear_image_nsfw_tag")


def clear_all_nsfw_tags() -> int:
    """Removes every person's tag (``POST /mss-login/api/nsfw/clear-tags``, administrators only).

    Returns the number of tags removed, 0 on failure. The classifier's verdicts stay.
    """
    try:
        count = _request("POST", API + "/clear-tags").get("cleared_count")
        return int(count) if isinstance(count, (int, float)) else 0
    except Exception as error:  # noqa: BLE001
        return _failed(error, 0, "clear_all_nsfw_tags")
