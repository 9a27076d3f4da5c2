"""Screening every metal pair, ranking candidates, reports and DFT export."""
