"""bindscape.simulate"""
