"""Policy documents in, tasks with their units, deadlines and milestones out.

Pure functions: no database and no web framework, so the same engine serves the API's
preview, the import, the spreadsheet import and `python -m app.extraction FILE`.
"""

from app.extraction.engine import extract, extract_text
from app.extraction.models import Extraction

__all__ = ["Extraction", "extract", "extract_text"]
