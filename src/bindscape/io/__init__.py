"""bindscape.io"""
