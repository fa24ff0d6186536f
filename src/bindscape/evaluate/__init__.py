"""bindscape.evaluate"""
