"""Turning bytes into text and text into bill fields; storing originals."""
