"""The 台账 (ledger) as a spreadsheet: export, task-list import, and re-import as an update."""
