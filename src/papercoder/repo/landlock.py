"""Forbid writes outside a few folders with Linux Landlock (kernel 5.13+, no privileges needed).

Reads stay allowed everywhere (the code needs the interpreter and its packages); creating,
writing, renaming and deleting files are allowed only beneath the folders given. Called in the
child process between ``fork`` and ``exec``, so :func:`prepare` does all the Python-level work
in the parent and :func:`restrict` only makes system calls.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

# system call numbers: the same on every architecture (they postdate the unified table)
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_RULE_PATH_BENEATH = 1
_VERSION_FLAG = 1
_PR_SET_NO_NEW_PRIVS = 38

_WRITE_FILE = 1 << 1
_REMOVE_DIR, _REMOVE_FILE = 1 << 4, 1 << 5
_MAKE_CHAR, _MAKE_DIR, _MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = (1 << k for k in range(6, 13))
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The Landlock ABI the kernel offers; 0 when Landlock is absent or disabled (or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0  # the system call numbers below mean something else elsewhere
    try:
        version = _libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION_FLAG))
    except (AttributeError, OSError):
        return 0
    return max(0, int(version))


@dataclass
class Plan:
    """Everything the child needs, built in the parent."""

    attr: _RulesetAttr
    rules: list[tuple[str, int]]  # (path, allowed access)


def prepare(writable_dirs: list[str], writable_files: list[str], abi: int) -> Plan:
    """A plan allowing writes beneath ``writable_dirs`` and to ``writable_files`` only."""
    handled = (
        _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_CHAR | _MAKE_DIR | _MAKE_REG | _MAKE_SOCK | _MAKE_FIFO | _MAKE_BLOCK | _MAKE_SYM
    )
    file_rights = _WRITE_FILE
    if abi >= 2:
        handled |= _REFER
    if abi >= 3:
        handled |= _TRUNCATE
        file_rights |= _TRUNCATE
    rules = [(d, handled) for d in writable_dirs if os.path.isdir(d)]
    rules += [(f, file_rights) for f in writable_files if os.path.exists(f)]
    return Plan(attr=_RulesetAttr(handled), rules=rules)


def restrict(plan: Plan) -> None:
    """Apply ``plan`` to the calling process and its future children; OSError on failure."""
    ruleset = _libc.syscall(_CREATE_RULESET, ctypes.byref(plan.attr), ctypes.c_size_t(ctypes.sizeof(plan.attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path, access in plan.rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, fd)
                if _libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if _libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
