"""python -m bench.baseline --dsn postgresql://… --port N [--admin-token T]: one uvicorn
worker with uvloop and httptools, bound to 127.0.0.1."""

from __future__ import annotations

import argparse
import os

import uvicorn

from bench.baseline import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--dsn", required=True, help="postgresql://user@127.0.0.1:port/db")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--admin-token", default=os.environ.get("DUBAN_ADMIN_TOKEN"),
                        help="accepted as the office's token (default: $DUBAN_ADMIN_TOKEN)")
    parser.add_argument("--pool", type=int, default=20, help="connections (default 20)")
    args = parser.parse_args()
    uvicorn.run(create_app(args.dsn, args.admin_token, args.pool), host=args.host,
                port=args.port, loop="uvloop", http="httptools", workers=1, access_log=False,
                log_level="warning")


if __name__ == "__main__":
    main()
