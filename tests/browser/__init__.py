"""Helpers for the browser test: a throwaway JupyterLab server and Debian's chromium driven by Playwright."""
