"""Disclosure work: statutory deadlines on China's adjusted working-day calendar, requests, the annual report."""
