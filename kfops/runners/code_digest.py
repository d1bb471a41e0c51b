"""A digest of the code each local step runs, so that kfp.local's cache cannot serve a
result that older code produced.

kfp.local keys a task on its component (the thin wrapper's source), image, inputs and
environment; the kfops modules the step imports are not in it. Here each component's
import closure is followed through ``components`` and ``kfops`` (every ``import``
statement, also those inside functions, so a lazy import counts), and the digest covers
those files' contents plus the lock files of the environments they run in: the main
``uv.lock`` and, for a step that reaches the TFDV runtime, ``runtimes/tfdv/uv.lock``.
The local runner puts the digest into the image name it gives the component, one of the
fields of kfp.local's key. The compiled IR for a cluster is not touched.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kfops

PACKAGES = ("kfops", "components")
# A step whose closure holds one of these runs code in the TFDV runtime: its lock counts.
TFDV_LAUNCHERS = (("kfops", "validation", "runtime.py"), ("kfops", "drift", "runtime.py"))
MEMO_NAME = "code-imports.json"
DIGEST_CHARS = 16


def _package_dirs() -> dict[str, Path]:
    """Where each package is imported from (a PYTHONPATH copy counts, not the checkout).

    ``components`` is found, not imported: its ``__init__`` imports kfp.
    """
    dirs = {"kfops": Path(kfops.__file__).resolve().parent}
    spec = importlib.util.find_spec("components")
    if spec is not None and spec.origin:
        dirs["components"] = Path(spec.origin).resolve().parent
    return dirs


def _module_file(name: str, dirs: dict[str, Path]) -> Path | None:
    parts = name.split(".")
    if parts[0] not in dirs:
        return None
    base = dirs[parts[0]].joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a module runs its packages too."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _type_checking_only(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:``: imports for annotations, never run."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", "")
    return name == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, but for the bodies of ``if TYPE_CHECKING:`` (their ``else`` runs)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if _type_checking_only(node):
            pending.extend(node.orelse)  # type: ignore[attr-defined]
        else:
            pending.extend(ast.iter_child_nodes(node))


def imported_names(source: bytes, module: str, is_package: bool) -> list[str]:
    """Every module name an import statement in ``source`` may load, absolute."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.append(base)
            # ``from pkg import name``: name may be a submodule; kept if a file says so.
            names.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return sorted(set(names))


@dataclass
class ImportMemo:
    """Import lists by file content digest, kept under the run state: parsing every module
    on each run would cost a cached run more than everything else it does."""

    path: Path | None
    entries: dict[str, list[str]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, path: Path | None) -> ImportMemo:
        entries: dict[str, list[str]] = {}
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
                entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                entries = {}
        return cls(path, entries)

    def names(self, content: bytes, module: str, is_package: bool) -> list[str]:
        key = hashlib.sha256(content + module.encode()).hexdigest()
        if key not in self.entries:
            self.entries[key] = imported_names(content, module, is_package)
            self.changed = True
        return self.entries[key]

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(json.dumps(self.entries))
        partial.replace(self.path)


class CodeDigests:
    """Digests of the code behind each component, sharing one read of every file."""

    def __init__(self, memo_path: Path | None = None, dirs: dict[str, Path] | None = None) -> None:
        """``dirs``: package name -> its directory; by default where they import from."""
        self.dirs = _package_dirs() if dirs is None else dirs
        self.memo = ImportMemo.load(memo_path)
        self._contents: dict[Path, bytes] = {}
        self._files: dict[str, Path | None] = {}  # module name -> its file, shared by steps

    def _read(self, path: Path) -> bytes:
        if path not in self._contents:
            self._contents[path] = path.read_bytes()
        return self._contents[path]

    def closure(self, roots: Iterable[str]) -> dict[str, Path]:
        """Module name -> file for every kfops/components module the roots may import."""
        found: dict[str, Path] = {}
        pending = [parent for root in roots for parent in _parents(root)]
        while pending:
            name = pending.pop()
            if name in found:
                continue
            if name not in self._files:
                self._files[name] = _module_file(name, self.dirs)
            path = self._files[name]
            if path is None:
                continue
            found[name] = path
            is_package = path.name == "__init__.py"
            for imported in self.memo.names(self._read(path), name, is_package):
                pending.extend(p for p in _parents(imported) if p not in found)
        return found

    def _locks(self, files: dict[str, Path]) -> list[Path]:
        root = self.dirs["kfops"].parent
        locks = [root / "uv.lock"]
        kfops_dir = self.dirs["kfops"]
        if any(kfops_dir.joinpath(*launcher[1:]) in files.values() for launcher in TFDV_LAUNCHERS):
            locks.append(root / "runtimes" / "tfdv" / "uv.lock")
        return [lock for lock in locks if lock.is_file()]

    def files(self, component: str) -> list[Path]:
        """The files whose content makes up ``component``'s digest."""
        modules = self.closure([f"components.{component}.component"])
        return sorted(modules.values()) + self._locks(modules)

    def _name(self, path: Path) -> str:
        """A file's name in the digest: where the package lives does not count."""
        for directory in self.dirs.values():
            if path.is_relative_to(directory.parent):
                return str(path.relative_to(directory.parent))
        return path.name

    def digest(self, component: str) -> str:
        digest = hashlib.sha256()
        for path in self.files(component):
            digest.update(self._name(path).encode() + b"\0" + self._read(path) + b"\0")
        return digest.hexdigest()[:DIGEST_CHARS]


def local_image(base: str, digests: CodeDigests, component: str) -> str:
    """The image name kfp.local keys a local task on: the code digest as its tag suffix."""
    return f"{base}-code-{digests.digest(component)}"
