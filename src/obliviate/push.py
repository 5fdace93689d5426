"""``obliviate push RUN --repo ID [--model unlearned] [--dry-run]``: one model directory of a
run, with its model card (``README.md``, :mod:`obliviate.model_card`), to the Hugging Face hub
through ``huggingface_hub`` (``create_repo`` then ``upload_folder``).

The token is huggingface_hub's own (``hf auth login`` or ``HF_TOKEN``); obliviate neither reads
nor writes it. ``--dry-run`` lists the files and their sizes and contacts nothing.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ObliviateError
from .model_card import front_matter


def push_files(run_dir: Path, model: str = "unlearned") -> tuple[Path, list[Path]]:
    """The model directory of ``model`` in ``run_dir`` (``<model>`` or ``<model>_lora``) and
    the files an upload sends (hidden files left out). Errors name the missing piece."""
    root = Path(run_dir) / "models"
    folder = root / model
    if not folder.is_dir():
        have = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise ObliviateError(f"push: {folder} does not exist; accepted --model: "
                             f"{', '.join(have) or 'none (is RUN a run directory?)'}")  # fmt: skip
    card = folder / "README.md"
    if not card.is_file() or "tags" not in front_matter(card.read_text()):
        raise ObliviateError(f"push: {card} is missing or has no model-card front matter; "
                             "rerun `obliviate eval` with the run's config to write it")  # fmt: skip
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in
                                              p.relative_to(folder).parts))  # fmt: skip
    return folder, files


def push(run_dir: Path, repo: str, model: str = "unlearned", dry_run: bool = False,
         private: bool = False) -> str:  # fmt: skip
    """Upload (or, with ``dry_run``, list) the model directory; a summary."""
    folder, files = push_files(run_dir, model)
    total = sum(p.stat().st_size for p in files)
    lines = [f"{'would upload' if dry_run else 'uploading'} {len(files)} files "
             f"({total / 2**20:.1f} MiB) from {folder} to {repo}:"]  # fmt: skip
    lines += [f"  {p.relative_to(folder).as_posix()}  {p.stat().st_size} bytes" for p in files]
    if dry_run:
        return "\n".join(lines)
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    try:
        api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model",
                                 commit_message=f"obliviate: {Path(run_dir).name} {model}",
                                 ignore_patterns=[".*"])  # fmt: skip
    except HfHubHTTPError as exc:
        raise ObliviateError(f"push {repo}: the hub refused: {str(exc).splitlines()[0]}") from None
    except OSError as exc:  # no network: requests' ConnectionError is an OSError
        raise ObliviateError(f"push {repo}: the hub could not be reached ({type(exc).__name__}); "
                             "check the network, or use --dry-run") from None  # fmt: skip
    return "\n".join([*lines, f"uploaded: {getattr(info, 'commit_url', info)}"])
