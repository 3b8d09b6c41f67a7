"""Reports a person downloads and opens in a spreadsheet: threads and the daily response rate,
as CSV."""
