"""bindscape.explain: attributions, motif discovery (TF-MoDISco + Tomtom), k-mer enrichment, score agreement
and the interpretation benchmark. Heavy libraries (captum, tangermeme, modisco-lite, memelite) are imported
inside the functions that use them.

    from bindscape.explain import attribute, position_scores
    a = attribute(model, x, "deeplift_shap")           # (N, 4, L)
    s = position_scores(a, x, "deeplift_shap")         # (N, L)
"""

from bindscape.explain.agreement import agreement_table, score_agreement
from bindscape.explain.attributions import (
    METHODS,
    AttributionWarning,
    attribute,
    check_method,
    hypothetical,
    position_scores,
    reverse_complement,
)
from bindscape.explain.kmers import fisher_greater, kmer_enrichment, kmer_enrichment_by_group, tss_groups

__all__ = [
    "METHODS", "AttributionWarning", "agreement_table", "attribute", "check_method", "fisher_greater",
    "hypothetical", "kmer_enrichment", "kmer_enrichment_by_group", "position_scores", "reverse_complement",
    "score_agreement", "tss_groups",
]
