"""bindscape.report"""
