"""Scheduled work: one run per interval across every process that shares the database."""
