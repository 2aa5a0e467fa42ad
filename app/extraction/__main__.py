"""`python -m app.extraction FILE`: print a document's extraction as JSON."""

from __future__ import annotations

import sys
from pathlib import Path

from app.errors import DomainError
from app.extraction import extract


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: python -m app.extraction FILE  (plain text, HTML or .docx)", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        result = extract(path.read_bytes(), path.name)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    sys.stdout.write(result.model_dump_json(indent=2))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
