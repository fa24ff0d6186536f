"""bindscape.motifs"""
