"""Response headers that keep the pages to themselves: no inline code, no framing, no leaks."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'; frame-src 'self'"
)


def set_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # DENY unless a view chose SAMEORIGIN (the warning slip PDF, printed from a hidden frame).
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html":
        # Pages show personal data: keep them out of shared caches and the back-button cache.
        response.headers["Cache-Control"] = "no-store"
    return response
