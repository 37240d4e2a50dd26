"""`simdetect backbones`: the registry, and which weights are here offline."""

from __future__ import annotations

from rich.table import Table

from simdetect.cli.common import console

CLIP_EXAMPLES = ("clip:ViT-B-32/laion2b_s34b_b79k", "clip:ViT-L-14/openai")


def backbones_cmd() -> None:
    """List the backbones, their dimension and whether their weights are here offline."""
    from simdetect.backbones import list_backbones

    table = Table(title="Backbones")
    for col in ("name", "dim", "offline", "description"):
        table.add_column(col)
    for info in list_backbones(CLIP_EXAMPLES):
        table.add_row(
            info.name,
            str(info.dim) if info.dim else "on load",
            "[green]yes[/]" if info.offline else "[red]no[/]",
            info.description,
        )
    console.print(table)
    console.print(
        "Any open_clip model works as clip:MODEL/TAG (weights cached by open_clip) "
        "or clip:MODEL@/path/to/checkpoint."
    )
