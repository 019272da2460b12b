"""Relative paths in a config (`state.url`'s SQLite file, `reports.directory`, `ca_file`,
`private_key_file`) resolve against the current directory, the one handoff runs in, not the
config file's directory: the Docker image relies on it (its config is /etc/handoff/handoff.yaml,
its store and reports land in its WORKDIR, /var/lib/handoff). A message about such a path says
where it led and how to point it elsewhere (`where`), so a config given with `--config` from
another directory does not leave the reader guessing."""

from __future__ import annotations

from pathlib import Path


def where(path: Path | str, config: Path | str | None = None) -> str:
    """`path` for a message: when relative, the file it resolves to, then how it got there and
    the fix (naming the copy beside `config`, the config file, when there is one)."""
    path = Path(path)
    if path.is_absolute():
        return str(path)
    resolved = Path.cwd() / path
    how = f"{resolved} ('{path}' in the config, relative to the current directory"
    if config is not None:
        home = Path(config).resolve().parent
        if home != Path.cwd() and (home / path).exists():
            return f"{how}, not the config's: write it as {home / path}, or run handoff in {home})"
    return f"{how}: write the path absolute, or run handoff in the directory it is relative to)"


def missing_file(setting: str, path: Path | None, config: Path | str | None = None) -> str | None:
    """Why `setting` names no file (None when it is unset or the file is there)."""
    if path is None or path.is_file():
        return None
    return f"{setting} {where(path, config)} does not exist"
