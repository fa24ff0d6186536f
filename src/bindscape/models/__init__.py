"""bindscape.models"""
