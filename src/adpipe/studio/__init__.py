"""The studio's web files (index.html, ES modules, CSS, icon), served by `adpipe.api.studio`.

Plain ES modules with no build step: the browser loads them as they are from this package.
"""
