"""Local review web app: a stdlib HTTP server on 127.0.0.1 and one static page (pipeline/review/static/).

    with CaseStore.open(case_dir) as store:
        server = ReviewServer(store)        # free port, random token
        print(server.url)
        server.serve_forever()
"""

from __future__ import annotations

from pipeline.review.server import ReviewServer

__all__ = ["ReviewServer"]
