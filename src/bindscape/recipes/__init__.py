"""bindscape.recipes"""
