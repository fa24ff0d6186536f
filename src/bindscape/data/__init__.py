"""bindscape.data"""
