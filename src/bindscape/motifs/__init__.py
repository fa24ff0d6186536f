"""Motifs: loading (JASPAR offline, MEME/JASPAR/TRANSFAC files), PWM math, scanning with exact p-values
(memelite's FIMO kernel on bindscape genome codes), Tomtom comparison, logos and the PWM baseline.

Everything heavy (pyjaspar, memelite, numba, logomaker, matplotlib) is imported inside the functions.
"""

from bindscape.motifs.baseline import PWMBaseline, pwm_max_scores
from bindscape.motifs.compare import annotate, tomtom
from bindscape.motifs.load import (
    Motif,
    as_background,
    catalogue,
    gc_background,
    jaspar_releases,
    load_jaspar,
    load_motif,
    load_motifs,
    read_jaspar,
    read_meme,
    read_motifs,
    read_transfac,
    search_jaspar,
    select_motif,
    write_meme,
)
from bindscape.motifs.logo import plot_logo, save_logo
from bindscape.motifs.scan import (
    HIT_COLUMNS,
    Scanner,
    iter_genome_hits,
    pvalue_table,
    scan_genome,
    scan_sequences,
    score_threshold,
    window_scores,
    write_hits,
)

__all__ = [
    "HIT_COLUMNS", "Motif", "PWMBaseline", "Scanner", "annotate", "as_background", "catalogue", "gc_background",
    "iter_genome_hits",
    "jaspar_releases", "load_jaspar", "load_motif", "load_motifs", "plot_logo", "pvalue_table", "pwm_max_scores",
    "read_jaspar", "read_meme", "read_motifs", "read_transfac", "save_logo", "scan_genome", "scan_sequences",
    "score_threshold", "search_jaspar", "select_motif", "tomtom", "window_scores", "write_hits", "write_meme",
]
