"""bindscape.train"""
