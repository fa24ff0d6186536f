"""bindscape.explain"""
